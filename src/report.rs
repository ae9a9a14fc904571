//! Reports from the journal: JUnit XML for CI and one self-contained HTML page for people,
//! both drawn from the same `Timeline` the dashboard's views use.

pub mod html;
pub mod junit;

use crate::timeline::{Timeline, Window};
use chrono::{DateTime, Utc};

/// What a report covers: the environment, the window of its journal, and what ran in it.
pub struct Report {
    pub env: String,
    pub window: Window,
    pub timeline: Timeline,
    /// When the report was made: the end of bars still running.
    pub made_at: DateTime<Utc>,
    /// The inventory's servers, in its order (the matrix's rows); empty when it could not be
    /// read, and then the servers the journal names are the rows.
    pub servers: Vec<String>,
}
