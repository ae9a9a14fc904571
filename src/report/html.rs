//! The HTML report (being written).

use super::Report;
use std::io::Write;

/// Placeholder until the HTML report lands: `fleetdeck report --html` and `run --html` call
/// this.
pub fn write(_report: &Report, _out: &mut impl Write) -> anyhow::Result<()> {
    anyhow::bail!("the HTML report is not built yet")
}
