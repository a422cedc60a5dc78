//! OpenID Connect bearer tokens (JWT) checked against an issuer's keys.
