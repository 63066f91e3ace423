//! (being written)
pub struct Config;
