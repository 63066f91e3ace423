//! (being written)
pub struct Pipeline;
