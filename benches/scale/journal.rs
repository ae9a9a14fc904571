pub fn journal_start(_work: &std::path::Path) {}
