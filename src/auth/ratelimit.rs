//! Token buckets per API key and per client address, and the throttle of
//! failed authentication attempts.
