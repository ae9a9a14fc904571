//! Scale part (being written).
pub fn run() {}
