//! xroute-config: the router's typed TOML configuration and its validation.
//!
//! A placeholder until the first relay issue defines the sections (chains, keys, store, API);
//! nothing in it is used yet.
