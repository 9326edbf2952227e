//! Pieces shared by pages.

pub mod chart;
pub mod fields;
pub mod forms;
pub mod layout;
pub mod live_tail;
