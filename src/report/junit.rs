//! The JUnit report (being written).
