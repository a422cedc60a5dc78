//! OpenID Connect bearer tokens (JWT) checked against an issuer's keys.
//!
//! A token is accepted when its signature verifies with one of the issuer's
//! published keys (a JWKS, from a file or a URL), with an algorithm from the
//! configured allow-list that fits that key; when its `iss` is the configured
//! issuer, its `aud` names one of the configured audiences, and `exp` (which
//! is required) and `nbf` hold, give or take the leeway. Its role claim is
//! then mapped to our roles through the configured table.
//!
//! Never trusted: unsigned tokens (`alg: none`), HMAC algorithms (whose
//! "key" would be public), keys carried by the token itself (`jwk`, `jku`,
//! `x5u`, `x5c` headers) and critical header extensions (`crit`).
//!
//! Keys from a URL are fetched on first use, re-fetched once
//! `jwks_refresh_s` has passed, and at once when a token names a key id we do
//! not know (the provider rotated its keys), at most once per
//! [`REFETCH_MIN_INTERVAL`]. When a re-fetch fails, the keys already known
//! keep serving.

use super::{AuthError, Role};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, KeyOperations, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, Validation};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

/// Longer tokens are refused before any parsing.
const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Larger key sets are refused.
const MAX_JWKS_BYTES: u64 = 1024 * 1024;

/// How long fetching a key set may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Key sets are fetched at most this often (after a failure, or for a token
/// naming an unknown key id).
pub const REFETCH_MIN_INTERVAL: Duration = Duration::from_secs(30);

/// The `[auth.oidc]` settings.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OidcConfig {
    /// The issuer, equal to the tokens' `iss`; unset turns OIDC off.
    pub issuer: Option<String>,
    /// A token's `aud` must contain one of these (required with `issuer`).
    pub audience: Vec<String>,
    /// A JWKS JSON file, or its `https://` URL (`http://` only to this
    /// machine: 127.0.0.1, ::1, localhost). Required with `issuer`.
    pub jwks: Option<String>,
    /// The claim holding the roles (default `roles`): a top-level name, or a
    /// dotted path such as `realm_access.roles`. Its value is an array of
    /// strings or one space-separated string.
    pub roles_claim: String,
    /// Claim value → our role name (`scientific`, `public-actor`,
    /// `private-rd`, `admin`); values not listed are ignored.
    pub role_map: BTreeMap<String, String>,
    /// The claim naming the user's organisation (default `org`; a dotted
    /// path is allowed too).
    pub organisation_claim: String,
    /// The signature algorithms accepted (default RS256 and ES256). `none`
    /// and the HMAC ones (HS256, HS384, HS512) are refused.
    pub algorithms: Vec<String>,
    /// Clock skew tolerated on `exp` and `nbf`, in seconds (default 30).
    pub leeway_s: u64,
    /// Keys from a URL are re-fetched after this many seconds (default 3600).
    pub jwks_refresh_s: u64,
}

impl Default for OidcConfig {
    fn default() -> Self {
        OidcConfig {
            issuer: None,
            audience: Vec::new(),
            jwks: None,
            roles_claim: "roles".into(),
            role_map: BTreeMap::new(),
            organisation_claim: "org".into(),
            algorithms: vec!["RS256".into(), "ES256".into()],
            leeway_s: 30,
            jwks_refresh_s: 3600,
        }
    }
}

/// What a verified token says about its bearer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcClaims {
    /// `sub`: the user's id at the identity provider (never empty).
    pub subject: String,
    /// `iss`: the issuer (the configured one).
    pub issuer: String,
    /// The roles mapped from the role claim (empty when none is mapped).
    pub roles: BTreeSet<Role>,
    /// The organisation claim, when it is a non-empty string.
    pub organisation: Option<String>,
    /// `name`, when present.
    pub name: Option<String>,
    /// `email`, when present.
    pub email: Option<String>,
    /// `exp`, in seconds since the Unix epoch.
    pub expires_at: i64,
}

/// Checks OIDC bearer tokens. `Send + Sync`; share it in an `Arc`.
pub struct OidcVerifier {
    algorithms: Vec<Algorithm>,
    validation: Validation,
    rules: ClaimRules,
    keys: KeySource,
}

impl std::fmt::Debug for OidcVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcVerifier")
            .field("issuer", &self.validation.iss)
            .field("audience", &self.validation.aud)
            .field("algorithms", &self.algorithms)
            .finish_non_exhaustive()
    }
}

impl OidcVerifier {
    /// None when `issuer` is unset. Checks the settings, and loads a JWKS
    /// file at once (a `Config` error if it is unreadable or has no usable
    /// key); a JWKS URL is fetched on first use.
    pub fn new(config: &OidcConfig) -> Result<Option<OidcVerifier>, AuthError> {
        let Some(issuer) = config.issuer.as_deref() else {
            return Ok(None);
        };
        if issuer.trim().is_empty() {
            return Err(config_error("oidc.issuer is empty"));
        }
        if config.audience.is_empty() || config.audience.iter().any(|a| a.trim().is_empty()) {
            return Err(config_error(
                "oidc.audience must name at least one audience when oidc.issuer is set",
            ));
        }
        let algorithms = parse_algorithms(&config.algorithms)?;
        let rules = ClaimRules::new(config)?;
        let jwks = config
            .jwks
            .as_deref()
            .filter(|j| !j.trim().is_empty())
            .ok_or_else(|| config_error("oidc.jwks (a file or a URL) is required"))?;
        if config.jwks_refresh_s == 0 {
            return Err(config_error("oidc.jwks_refresh_s must be at least 1"));
        }
        let refresh = Duration::from_secs(config.jwks_refresh_s);
        let keys = KeySource::new(jwks.trim(), &algorithms, refresh)?;
        let validation = base_validation(issuer, &config.audience, config.leeway_s, &algorithms);
        Ok(Some(OidcVerifier {
            algorithms,
            validation,
            rules,
            keys,
        }))
    }

    /// Checks the token: signature (key chosen by `kid`, or the only key
    /// fitting the algorithm), algorithm (allowed, and fitting the key's
    /// type, curve and declared `alg`), `iss`, `aud`, `exp` (required), `nbf`,
    /// with leeway. Errors: `Expired` (also before `nbf`), `Invalid(reason)`,
    /// `Unavailable` when the keys cannot be fetched.
    pub async fn verify(&self, token: &str) -> Result<OidcClaims, AuthError> {
        let header = read_header(token, &self.algorithms)?;
        let key = self.keys.key_for(header.kid.as_deref(), header.alg).await?;
        let mut validation = self.validation.clone();
        validation.algorithms = vec![header.alg];
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, &validation)
            .map_err(rejected)?;
        self.rules.claims(&data.claims)
    }
}

fn config_error(message: &str) -> AuthError {
    AuthError::Config(message.to_owned())
}

fn invalid(reason: &str) -> AuthError {
    AuthError::Invalid(reason.to_owned())
}

/// The allow-list, refusing `none` and HMAC.
fn parse_algorithms(names: &[String]) -> Result<Vec<Algorithm>, AuthError> {
    if names.is_empty() {
        return Err(config_error("oidc.algorithms is empty"));
    }
    let mut algorithms = Vec::new();
    for name in names {
        let name = name.trim();
        if name.eq_ignore_ascii_case("none") {
            return Err(config_error(
                "oidc.algorithms: `none` (unsigned tokens) is never allowed",
            ));
        }
        let alg = Algorithm::from_str(name).map_err(|_| {
            AuthError::Config(format!("oidc.algorithms: unknown algorithm {name:?}"))
        })?;
        if alg.family() == AlgorithmFamily::Hmac {
            return Err(AuthError::Config(format!(
                "oidc.algorithms: {name} is refused: HMAC needs a shared secret, not a published key"
            )));
        }
        if !algorithms.contains(&alg) {
            algorithms.push(alg);
        }
    }
    Ok(algorithms)
}

/// The checks jsonwebtoken makes; `algorithms` is set per token.
fn base_validation(
    issuer: &str,
    audience: &[String],
    leeway_s: u64,
    algorithms: &[Algorithm],
) -> Validation {
    let mut validation = Validation::new(algorithms[0]);
    validation.leeway = leeway_s;
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.validate_aud = true;
    validation.set_issuer(&[issuer]);
    validation.set_audience(audience);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation
}

/// A jsonwebtoken refusal as our error, with a short reason.
fn rejected(error: jsonwebtoken::errors::Error) -> AuthError {
    match error.kind() {
        ErrorKind::ExpiredSignature | ErrorKind::ImmatureSignature => AuthError::Expired,
        ErrorKind::InvalidSignature => invalid("bad signature"),
        ErrorKind::InvalidIssuer => invalid("wrong issuer"),
        ErrorKind::InvalidAudience => invalid("wrong audience"),
        ErrorKind::MissingRequiredClaim(claim) => {
            AuthError::Invalid(format!("the token has no `{claim}` claim"))
        }
        ErrorKind::InvalidClaimFormat(claim) => {
            AuthError::Invalid(format!("malformed `{claim}` claim"))
        }
        ErrorKind::InvalidAlgorithm
        | ErrorKind::MissingAlgorithm
        | ErrorKind::InvalidAlgorithmName
        | ErrorKind::UnsupportedAlgorithm => invalid("the algorithm does not fit the key"),
        ErrorKind::InvalidRsaKey(_)
        | ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidEddsaKey
        | ErrorKind::InvalidKeyFormat => invalid("the signing key is unusable"),
        _ => invalid("malformed token"),
    }
}

/// The header fields we act on.
#[derive(Debug)]
struct TokenHeader {
    alg: Algorithm,
    kid: Option<String>,
}

/// Reads the header and refuses, before any key lookup, what is never
/// accepted: oversized or misshapen tokens, `alg: none`, algorithms outside
/// the allow-list, critical extensions.
fn read_header(token: &str, allowed: &[Algorithm]) -> Result<TokenHeader, AuthError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(invalid("token too long"));
    }
    let mut parts = token.split('.');
    let (Some(encoded), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("malformed token"));
    };
    let header: Map<String, Value> = URL_SAFE_NO_PAD
        .decode(encoded)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| invalid("malformed token header"))?;
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("the token header has no algorithm"))?;
    if alg.eq_ignore_ascii_case("none") {
        return Err(invalid("unsigned token (alg none)"));
    }
    let alg = Algorithm::from_str(alg).map_err(|_| invalid("unknown signing algorithm"))?;
    if !allowed.contains(&alg) {
        return Err(AuthError::Invalid(format!(
            "signing algorithm {alg:?} is not allowed"
        )));
    }
    if header.contains_key("crit") {
        return Err(invalid("critical header extensions are not supported"));
    }
    let kid = match header.get("kid") {
        None | Some(Value::Null) => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err(invalid("malformed key id")),
    };
    Ok(TokenHeader { alg, kid })
}

/// How claims become roles and an organisation.
struct ClaimRules {
    roles_claim: String,
    role_map: BTreeMap<String, Role>,
    organisation_claim: String,
}

impl ClaimRules {
    fn new(config: &OidcConfig) -> Result<ClaimRules, AuthError> {
        let roles_claim = config.roles_claim.trim();
        let organisation_claim = config.organisation_claim.trim();
        if roles_claim.is_empty() || organisation_claim.is_empty() {
            return Err(config_error(
                "oidc.roles_claim and oidc.organisation_claim must not be empty",
            ));
        }
        let mut role_map = BTreeMap::new();
        for (value, role) in &config.role_map {
            let parsed = Role::parse(role).ok_or_else(|| {
                AuthError::Config(format!(
                    "oidc.role_map: {value:?} maps to {role:?}, which is not a role \
                     (scientific, public-actor, private-rd, admin)"
                ))
            })?;
            role_map.insert(value.clone(), parsed);
        }
        Ok(ClaimRules {
            roles_claim: roles_claim.to_owned(),
            role_map,
            organisation_claim: organisation_claim.to_owned(),
        })
    }

    /// The claims of a verified token.
    fn claims(&self, claims: &Map<String, Value>) -> Result<OidcClaims, AuthError> {
        let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
        let subject = text("sub")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| invalid("the token has no subject"))?;
        let issuer = text("iss").ok_or_else(|| invalid("the token has no issuer"))?;
        let expires_at = claims
            .get("exp")
            .and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)))
            .ok_or_else(|| invalid("malformed `exp` claim"))?;
        Ok(OidcClaims {
            subject,
            issuer,
            roles: self.roles(claims),
            organisation: self.organisation(claims),
            name: text("name"),
            email: text("email"),
            expires_at,
        })
    }

    /// The mapped roles; unmapped values and non-strings are ignored.
    fn roles(&self, claims: &Map<String, Value>) -> BTreeSet<Role> {
        let values: Vec<&str> = match claim_at(claims, &self.roles_claim) {
            Some(Value::String(s)) => s.split_whitespace().collect(),
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        values
            .into_iter()
            .filter_map(|v| self.role_map.get(v).copied())
            .collect()
    }

    /// A non-empty string, or the first string of an array.
    fn organisation(&self, claims: &Map<String, Value>) -> Option<String> {
        let value = match claim_at(claims, &self.organisation_claim)? {
            Value::Array(items) => items.iter().find_map(Value::as_str),
            other => other.as_str(),
        };
        value.filter(|s| !s.trim().is_empty()).map(str::to_owned)
    }
}

/// A claim by name, or by dotted path through nested objects when no
/// top-level claim has that name (so `https://example.org/roles` works too).
fn claim_at<'a>(claims: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    if let Some(value) = claims.get(path) {
        return Some(value);
    }
    let mut parts = path.split('.');
    let mut value = claims.get(parts.next()?)?;
    for part in parts {
        value = value.as_object()?.get(part)?;
    }
    Some(value)
}

/// A verification key from the JWKS, with the algorithms it may check.
struct VerifyKey {
    kid: Option<String>,
    algorithms: Vec<Algorithm>,
    key: DecodingKey,
}

/// The usable keys of a JWKS.
struct KeySet {
    keys: Vec<Arc<VerifyKey>>,
}

impl KeySet {
    /// Parses a JWKS, keeping the keys usable with the allowed algorithms
    /// (others are skipped, not fatal: a provider may publish encryption
    /// keys or key types we do not use). Err when none is usable.
    fn parse(text: &str, allowed: &[Algorithm]) -> Result<KeySet, String> {
        let doc: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let entries = doc
            .get("keys")
            .and_then(Value::as_array)
            .ok_or("no `keys` array")?;
        let mut keys = Vec::new();
        for (index, entry) in entries.iter().enumerate() {
            let parsed = serde_json::from_value::<Jwk>(entry.clone())
                .map_err(|e| e.to_string())
                .and_then(|jwk| verify_key(&jwk, allowed));
            match parsed {
                Ok(key) => keys.push(Arc::new(key)),
                Err(why) => {
                    tracing::debug!(index, kid = ?entry.get("kid"), "JWKS key skipped: {why}")
                }
            }
        }
        if keys.is_empty() {
            return Err("no key usable with the allowed algorithms".into());
        }
        Ok(KeySet { keys })
    }

    /// The key for this token: the one with its `kid` that fits `alg`; with
    /// no `kid`, the only key that fits; with a `kid` unknown here, the only
    /// key when the set holds a single key without an id.
    fn select(&self, kid: Option<&str>, alg: Algorithm) -> Option<Arc<VerifyKey>> {
        let mut fitting = self.keys.iter().filter(|k| k.algorithms.contains(&alg));
        let found = match kid {
            Some(kid) => fitting
                .clone()
                .find(|k| k.kid.as_deref() == Some(kid))
                .or_else(|| match self.keys.as_slice() {
                    [only] if only.kid.is_none() => fitting.next(),
                    _ => None,
                }),
            None => match (fitting.next(), fitting.next()) {
                (Some(only), None) => Some(only),
                _ => None,
            },
        };
        found.cloned()
    }
}

/// A JWK as a verification key, or why it cannot be one.
fn verify_key(jwk: &Jwk, allowed: &[Algorithm]) -> Result<VerifyKey, String> {
    if matches!(jwk.common.public_key_use, Some(ref u) if *u != PublicKeyUse::Signature) {
        return Err("not a signature key".into());
    }
    if let Some(ops) = &jwk.common.key_operations
        && !ops.contains(&KeyOperations::Verify)
    {
        return Err("not a verification key".into());
    }
    let algorithms: Vec<Algorithm> = allowed
        .iter()
        .copied()
        .filter(|alg| key_fits(jwk, *alg))
        .collect();
    if algorithms.is_empty() {
        return Err("no allowed algorithm fits this key".into());
    }
    let key = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    Ok(VerifyKey {
        kid: jwk.common.key_id.clone(),
        algorithms,
        key,
    })
}

/// Whether `alg` may be checked with this key: its declared `alg`, if any,
/// is that one, and its type (and curve) is the algorithm's.
fn key_fits(jwk: &Jwk, alg: Algorithm) -> bool {
    if let Some(declared) = jwk.common.key_algorithm
        && declared != KeyAlgorithm::from(alg)
    {
        return false;
    }
    match (&jwk.algorithm, alg) {
        (AlgorithmParameters::RSA(_), _) => alg.family() == AlgorithmFamily::Rsa,
        (AlgorithmParameters::EllipticCurve(ec), Algorithm::ES256) => {
            ec.curve == EllipticCurve::P256
        }
        (AlgorithmParameters::EllipticCurve(ec), Algorithm::ES384) => {
            ec.curve == EllipticCurve::P384
        }
        (AlgorithmParameters::OctetKeyPair(okp), Algorithm::EdDSA) => {
            okp.curve == EllipticCurve::Ed25519
        }
        _ => false,
    }
}

/// Where the keys come from.
enum KeySource {
    File(KeySet),
    Url(Box<RemoteKeys>),
}

impl KeySource {
    fn new(jwks: &str, allowed: &[Algorithm], refresh: Duration) -> Result<KeySource, AuthError> {
        let lower = jwks.to_ascii_lowercase();
        if lower.starts_with("https://") || lower.starts_with("http://") {
            let remote = RemoteKeys::new(jwks, allowed, refresh)?;
            return Ok(KeySource::Url(Box::new(remote)));
        }
        let text = std::fs::read_to_string(jwks)
            .map_err(|e| AuthError::Config(format!("oidc.jwks: cannot read {jwks}: {e}")))?;
        let set = KeySet::parse(&text, allowed)
            .map_err(|e| AuthError::Config(format!("oidc.jwks: {jwks}: {e}")))?;
        Ok(KeySource::File(set))
    }

    async fn key_for(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<Arc<VerifyKey>, AuthError> {
        match self {
            KeySource::File(set) => set
                .select(kid, alg)
                .ok_or_else(|| invalid("unknown signing key")),
            KeySource::Url(remote) => remote.key_for(kid, alg).await,
        }
    }
}

/// Keys fetched from a URL, cached.
struct RemoteKeys {
    url: String,
    agent: ureq::Agent,
    algorithms: Vec<Algorithm>,
    refresh_after: Duration,
    min_refetch: Duration,
    state: RwLock<RemoteState>,
    /// One fetch at a time; the others wait for its outcome.
    fetch_lock: tokio::sync::Mutex<()>,
}

/// The cache of a [`RemoteKeys`].
#[derive(Clone, Default)]
struct RemoteState {
    keys: Option<Arc<KeySet>>,
    fetched_at: Option<Instant>,
    attempted_at: Option<Instant>,
    last_error: Option<Arc<str>>,
}

impl RemoteKeys {
    fn new(url: &str, allowed: &[Algorithm], refresh: Duration) -> Result<RemoteKeys, AuthError> {
        let parsed = url::Url::parse(url)
            .map_err(|e| AuthError::Config(format!("oidc.jwks: bad URL: {e}")))?;
        let local = is_loopback(&parsed);
        if parsed.scheme() != "https" && !local {
            return Err(config_error(
                "oidc.jwks: a URL must use https (plain http only to this machine)",
            ));
        }
        Ok(RemoteKeys {
            url: url.to_owned(),
            agent: http_agent(!local, local),
            algorithms: allowed.to_vec(),
            refresh_after: refresh,
            min_refetch: REFETCH_MIN_INTERVAL,
            state: RwLock::new(RemoteState::default()),
            fetch_lock: tokio::sync::Mutex::new(()),
        })
    }

    fn snapshot(&self) -> RemoteState {
        self.state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn update(&self, change: impl FnOnce(&mut RemoteState)) {
        change(&mut self.state.write().unwrap_or_else(PoisonError::into_inner));
    }

    fn may_fetch(&self, state: &RemoteState) -> bool {
        state
            .attempted_at
            .is_none_or(|t| t.elapsed() >= self.min_refetch)
    }

    fn is_stale(&self, state: &RemoteState) -> bool {
        state
            .fetched_at
            .is_none_or(|t| t.elapsed() >= self.refresh_after)
    }

    /// The key for a token, fetching the set when it is missing or stale,
    /// and again when the token names a key id not in it.
    async fn key_for(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<Arc<VerifyKey>, AuthError> {
        let state = self.snapshot();
        let mut keys = state.keys.clone();
        if self.is_stale(&state) && self.may_fetch(&state) {
            match self.refresh(state.attempted_at).await {
                Ok(fresh) => keys = fresh.or(keys),
                Err(e) if keys.is_none() => return Err(e),
                Err(_) => {} // logged; the keys we have still serve
            }
        }
        let keys = keys.ok_or_else(|| unavailable(&state))?;
        if let Some(key) = keys.select(kid, alg) {
            return Ok(key);
        }
        // Perhaps the provider rotated its keys.
        let state = self.snapshot();
        if kid.is_some() && self.may_fetch(&state) {
            let fresh = self.refresh(state.attempted_at).await?;
            if let Some(key) = fresh.and_then(|set| set.select(kid, alg)) {
                return Ok(key);
            }
        }
        Err(invalid("unknown signing key"))
    }

    /// Fetches the set, unless another request attempted it since `seen`,
    /// in which case that attempt's outcome is returned.
    async fn refresh(&self, seen: Option<Instant>) -> Result<Option<Arc<KeySet>>, AuthError> {
        let _one_at_a_time = self.fetch_lock.lock().await;
        let current = self.snapshot();
        if current.attempted_at != seen {
            return match current.last_error {
                Some(_) => Err(unavailable(&current)),
                None => Ok(current.keys),
            };
        }
        let attempt = Instant::now();
        self.update(|s| s.attempted_at = Some(attempt));
        let (agent, url, allowed) = (
            self.agent.clone(),
            self.url.clone(),
            self.algorithms.clone(),
        );
        let fetched = tokio::task::spawn_blocking(move || fetch_jwks(&agent, &url, &allowed))
            .await
            .unwrap_or_else(|e| Err(format!("the key fetch did not finish: {e}")));
        match fetched {
            Ok(set) => {
                let set = Arc::new(set);
                self.update(|s| {
                    s.keys = Some(set.clone());
                    s.fetched_at = Some(attempt);
                    s.last_error = None;
                });
                Ok(Some(set))
            }
            Err(message) => {
                tracing::warn!(url = %self.url, "OIDC keys: {message}");
                let message: Arc<str> = message.into();
                self.update(|s| s.last_error = Some(message.clone()));
                Err(AuthError::Unavailable(message.to_string()))
            }
        }
    }
}

fn unavailable(state: &RemoteState) -> AuthError {
    AuthError::Unavailable(match &state.last_error {
        Some(message) => message.to_string(),
        None => "the identity provider's keys are not loaded".into(),
    })
}

/// Whether the URL's host is this machine.
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// The HTTP client for key sets: native TLS with the system's roots, a
/// timeout, and no proxy for this machine.
fn http_agent(https_only: bool, local: bool) -> ureq::Agent {
    use ureq::tls::{RootCerts, TlsConfig, TlsProvider};
    let tls = TlsConfig::builder()
        .provider(TlsProvider::NativeTls)
        .root_certs(RootCerts::PlatformVerifier)
        .build();
    let mut config = ureq::Agent::config_builder()
        .tls_config(tls)
        .https_only(https_only)
        .timeout_global(Some(FETCH_TIMEOUT))
        .max_redirects(3)
        .user_agent(concat!("tuilerie/", env!("CARGO_PKG_VERSION")));
    if local {
        config = config.proxy(None);
    }
    ureq::Agent::new_with_config(config.build())
}

/// Fetches and parses a key set (blocking).
fn fetch_jwks(agent: &ureq::Agent, url: &str, allowed: &[Algorithm]) -> Result<KeySet, String> {
    let mut response = agent
        .get(url)
        .header("accept", "application/json")
        .call()
        .map_err(|e| format!("cannot fetch the JWKS: {e}"))?;
    let text = response
        .body_mut()
        .with_config()
        .limit(MAX_JWKS_BYTES)
        .read_to_string()
        .map_err(|e| format!("cannot read the JWKS: {e}"))?;
    KeySet::parse(&text, allowed).map_err(|e| format!("bad JWKS: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::jwk::JwkSet;
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::path::Path;
    use std::process::Command;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Mutex, OnceLock};

    const ISSUER: &str = "https://sso.example.org/realms/dinamis";
    const AUDIENCE: &str = "tuilerie";

    /// Keys made by the openssl CLI: DER for signing, PEM of the public key.
    struct TestKeys {
        rsa: Vec<u8>,
        rsa_public_pem: Vec<u8>,
        forger: Vec<u8>,
        rotated: Vec<u8>,
        ec: Vec<u8>,
    }

    fn openssl(dir: &Path, args: &[&str]) {
        let status = Command::new("openssl")
            .current_dir(dir)
            .args(args)
            .stderr(std::process::Stdio::null())
            .status()
            .expect("the openssl command");
        assert!(status.success(), "openssl {args:?}");
    }

    /// A 2048-bit RSA key, PKCS#1 DER (what jsonwebtoken signs with).
    fn rsa_key(dir: &Path, name: &str) -> Vec<u8> {
        let (pem, der) = (format!("{name}.pem"), format!("{name}.der"));
        openssl(
            dir,
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-out",
                &pem,
            ],
        );
        openssl(
            dir,
            &[
                "rsa",
                "-in",
                &pem,
                "-traditional",
                "-outform",
                "DER",
                "-out",
                &der,
            ],
        );
        std::fs::read(dir.join(der)).unwrap()
    }

    fn keys() -> &'static TestKeys {
        static KEYS: OnceLock<TestKeys> = OnceLock::new();
        KEYS.get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let d = dir.path();
            let rsa = rsa_key(d, "rsa");
            openssl(
                d,
                &["pkey", "-in", "rsa.pem", "-pubout", "-out", "rsa.pub.pem"],
            );
            openssl(
                d,
                &[
                    "genpkey",
                    "-algorithm",
                    "EC",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                    "-out",
                    "ec.pem",
                ],
            );
            openssl(
                d,
                &[
                    "pkcs8", "-topk8", "-nocrypt", "-in", "ec.pem", "-outform", "DER", "-out",
                    "ec.der",
                ],
            );
            TestKeys {
                rsa,
                rsa_public_pem: std::fs::read(d.join("rsa.pub.pem")).unwrap(),
                forger: rsa_key(d, "forger"),
                rotated: rsa_key(d, "rotated"),
                ec: std::fs::read(d.join("ec.der")).unwrap(),
            }
        })
    }

    fn rsa(der: &[u8]) -> EncodingKey {
        EncodingKey::from_rsa_der(der)
    }

    fn ec() -> EncodingKey {
        EncodingKey::from_ec_der(&keys().ec)
    }

    /// The public JWK of a signing key.
    fn jwk(key: &EncodingKey, alg: Algorithm, kid: &str) -> Jwk {
        let mut jwk = Jwk::from_encoding_key(key, alg).unwrap();
        jwk.common.key_id = Some(kid.into());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        jwk
    }

    fn jwks(keys: Vec<Jwk>) -> String {
        serde_json::to_string(&JwkSet { keys }).unwrap()
    }

    /// The usual set: RSA `rsa-1` and EC `ec-1`.
    fn standard_jwks() -> String {
        jwks(vec![
            jwk(&rsa(&keys().rsa), Algorithm::RS256, "rsa-1"),
            jwk(&ec(), Algorithm::ES256, "ec-1"),
        ])
    }

    fn now() -> i64 {
        jsonwebtoken::get_current_timestamp() as i64
    }

    fn claims() -> Value {
        json!({
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "user-42",
            "exp": now() + 600,
            "iat": now(),
            "roles": ["dinamis-sci", "offline_access"],
            "org": "INRAE",
            "name": "Ada Lovelace",
            "email": "ada@example.org",
        })
    }

    fn with(mut claims: Value, changes: Value) -> Value {
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                claims.as_object_mut().unwrap().remove(k);
            } else {
                claims[k] = v.clone();
            }
        }
        claims
    }

    fn sign(alg: Algorithm, kid: Option<&str>, claims: &Value, key: &EncodingKey) -> String {
        let mut header = Header::new(alg);
        header.kid = kid.map(str::to_owned);
        jsonwebtoken::encode(&header, claims, key).unwrap()
    }

    fn rs256(claims: &Value) -> String {
        sign(Algorithm::RS256, Some("rsa-1"), claims, &rsa(&keys().rsa))
    }

    fn config(jwks: &str) -> OidcConfig {
        OidcConfig {
            issuer: Some(ISSUER.into()),
            audience: vec![AUDIENCE.into(), "other-client".into()],
            jwks: Some(jwks.into()),
            role_map: BTreeMap::from([
                ("dinamis-sci".into(), "scientific".into()),
                ("dinamis-pub".into(), "public-actor".into()),
                ("tuilerie-admin".into(), "admin".into()),
            ]),
            ..OidcConfig::default()
        }
    }

    /// A verifier over a JWKS file; the directory must outlive construction only.
    fn file_verifier(config_change: impl FnOnce(&mut OidcConfig)) -> OidcVerifier {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwks.json");
        std::fs::write(&path, standard_jwks()).unwrap();
        let mut config = config(path.to_str().unwrap());
        config_change(&mut config);
        OidcVerifier::new(&config).unwrap().unwrap()
    }

    fn verifier() -> OidcVerifier {
        file_verifier(|_| {})
    }

    fn invalid_reason(result: Result<OidcClaims, AuthError>) -> String {
        match result {
            Err(AuthError::Invalid(reason)) => reason,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn valid_rs256_token_gives_claims_and_mapped_roles() {
        let claims = verifier().verify(&rs256(&claims())).await.unwrap();
        assert_eq!(claims.subject, "user-42");
        assert_eq!(claims.issuer, ISSUER);
        assert_eq!(claims.roles, BTreeSet::from([Role::Scientific]));
        assert_eq!(claims.organisation.as_deref(), Some("INRAE"));
        assert_eq!(claims.name.as_deref(), Some("Ada Lovelace"));
        assert_eq!(claims.email.as_deref(), Some("ada@example.org"));
        assert!(claims.expires_at > now());
    }

    #[tokio::test]
    async fn valid_es256_token_with_space_separated_roles() {
        let body = with(
            claims(),
            json!({"roles": "dinamis-pub unknown dinamis-sci", "aud": ["x", "other-client"]}),
        );
        let token = sign(Algorithm::ES256, Some("ec-1"), &body, &ec());
        let claims = verifier().verify(&token).await.unwrap();
        assert_eq!(
            claims.roles,
            BTreeSet::from([Role::Scientific, Role::PublicActor])
        );
    }

    #[tokio::test]
    async fn nested_roles_claim() {
        let v = file_verifier(|c| {
            c.roles_claim = "realm_access.roles".into();
            c.organisation_claim = "https://example.org/org".into();
        });
        let body = with(
            claims(),
            json!({
                "realm_access": {"roles": ["tuilerie-admin", "dinamis-sci"]},
                "https://example.org/org": ["CNES"],
                "roles": null,
            }),
        );
        let claims = v.verify(&rs256(&body)).await.unwrap();
        assert_eq!(
            claims.roles,
            BTreeSet::from([Role::Scientific, Role::Admin])
        );
        assert_eq!(claims.organisation.as_deref(), Some("CNES"));
        // No role claim at all: no roles, still a valid identity.
        let body = with(claims_without_roles(), json!({}));
        assert!(v.verify(&rs256(&body)).await.unwrap().roles.is_empty());
    }

    fn claims_without_roles() -> Value {
        with(claims(), json!({"roles": null}))
    }

    #[tokio::test]
    async fn expired_token() {
        let v = verifier();
        let old = with(claims(), json!({"exp": now() - 120}));
        assert!(matches!(
            v.verify(&rs256(&old)).await,
            Err(AuthError::Expired)
        ));
        // Within the leeway (30 s) it still passes.
        let just = with(claims(), json!({"exp": now() - 5}));
        v.verify(&rs256(&just)).await.unwrap();
        let no_exp = with(claims(), json!({"exp": null}));
        assert!(invalid_reason(v.verify(&rs256(&no_exp)).await).contains("exp"));
    }

    #[tokio::test]
    async fn not_yet_valid_token() {
        let v = verifier();
        let early = with(claims(), json!({"nbf": now() + 600}));
        assert!(matches!(
            v.verify(&rs256(&early)).await,
            Err(AuthError::Expired)
        ));
        let skewed = with(claims(), json!({"nbf": now() + 10}));
        v.verify(&rs256(&skewed)).await.unwrap();
    }

    #[tokio::test]
    async fn wrong_issuer_or_audience() {
        let v = verifier();
        let other = with(claims(), json!({"iss": "https://evil.example.org"}));
        assert_eq!(
            invalid_reason(v.verify(&rs256(&other)).await),
            "wrong issuer"
        );
        let other = with(claims(), json!({"aud": ["someone-else"]}));
        assert_eq!(
            invalid_reason(v.verify(&rs256(&other)).await),
            "wrong audience"
        );
        let none = with(claims(), json!({"aud": null}));
        assert!(invalid_reason(v.verify(&rs256(&none)).await).contains("aud"));
        let no_sub = with(claims(), json!({"sub": null}));
        assert!(invalid_reason(v.verify(&rs256(&no_sub)).await).contains("sub"));
    }

    #[tokio::test]
    async fn forged_signature_with_the_same_kid() {
        let token = sign(
            Algorithm::RS256,
            Some("rsa-1"),
            &claims(),
            &rsa(&keys().forger),
        );
        assert_eq!(
            invalid_reason(verifier().verify(&token).await),
            "bad signature"
        );
    }

    #[tokio::test]
    async fn payload_altered_after_signing() {
        let token = rs256(&claims());
        let parts: Vec<&str> = token.split('.').collect();
        let promoted = with(claims(), json!({"roles": ["tuilerie-admin"]}));
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&promoted).unwrap());
        let altered = format!("{}.{payload}.{}", parts[0], parts[2]);
        assert_eq!(
            invalid_reason(verifier().verify(&altered).await),
            "bad signature"
        );
    }

    fn unsigned(header: Value, claims: &Value) -> String {
        let enc = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
        format!("{}.{}.", enc(&header), enc(claims))
    }

    #[tokio::test]
    async fn alg_none_is_refused() {
        let v = verifier();
        for alg in ["none", "None", "NONE"] {
            let token = unsigned(json!({"alg": alg, "typ": "JWT"}), &claims());
            assert!(
                invalid_reason(v.verify(&token).await).contains("alg none"),
                "{alg}"
            );
        }
        let token = unsigned(json!({"alg": "none", "kid": "rsa-1"}), &claims());
        assert!(invalid_reason(v.verify(&token).await).contains("alg none"));
    }

    #[tokio::test]
    async fn hs256_signed_with_the_public_key_is_refused() {
        // The classic confusion: HMAC keyed with the RSA public key's bytes.
        let secret = EncodingKey::from_secret(&keys().rsa_public_pem);
        let token = sign(Algorithm::HS256, Some("rsa-1"), &claims(), &secret);
        assert!(invalid_reason(verifier().verify(&token).await).contains("not allowed"));
        // Even when HMAC names no key.
        let token = sign(Algorithm::HS256, None, &claims(), &secret);
        assert!(invalid_reason(verifier().verify(&token).await).contains("not allowed"));
    }

    #[tokio::test]
    async fn the_algorithm_must_fit_the_key() {
        // An ES256 header naming the RSA key; RS256 naming the EC key.
        let v = verifier();
        let token = sign(Algorithm::ES256, Some("rsa-1"), &claims(), &ec());
        assert_eq!(
            invalid_reason(v.verify(&token).await),
            "unknown signing key"
        );
        let token = sign(Algorithm::RS256, Some("ec-1"), &claims(), &rsa(&keys().rsa));
        assert_eq!(
            invalid_reason(v.verify(&token).await),
            "unknown signing key"
        );
        // An allowed algorithm the JWK does not declare (it says RS256).
        let v = file_verifier(|c| c.algorithms = vec!["RS256".into(), "RS384".into()]);
        let token = sign(
            Algorithm::RS384,
            Some("rsa-1"),
            &claims(),
            &rsa(&keys().rsa),
        );
        assert_eq!(
            invalid_reason(v.verify(&token).await),
            "unknown signing key"
        );
    }

    #[tokio::test]
    async fn key_ids() {
        let v = verifier();
        let token = sign(
            Algorithm::RS256,
            Some("rsa-9"),
            &claims(),
            &rsa(&keys().rsa),
        );
        assert_eq!(
            invalid_reason(v.verify(&token).await),
            "unknown signing key"
        );
        // No kid: the only key fitting the algorithm.
        let token = sign(Algorithm::RS256, None, &claims(), &rsa(&keys().rsa));
        v.verify(&token).await.unwrap();
        let token = sign(Algorithm::ES256, None, &claims(), &ec());
        v.verify(&token).await.unwrap();
    }

    #[tokio::test]
    async fn key_choice_without_ids() {
        let dir = tempfile::tempdir().unwrap();
        let set = |name: &str, kids: &[Option<&str>]| {
            let keys = [&keys().rsa, &keys().rotated];
            let set = kids.iter().zip(keys).map(|(kid, der)| {
                let mut jwk = jwk(&rsa(der), Algorithm::RS256, "");
                jwk.common.key_id = kid.map(str::to_owned);
                jwk
            });
            let path = dir.path().join(name);
            std::fs::write(&path, jwks(set.collect())).unwrap();
            OidcVerifier::new(&config(path.to_str().unwrap()))
                .unwrap()
                .unwrap()
        };
        // A single key without an id serves whatever kid the token names.
        let single = set("single.json", &[None]);
        let token = sign(Algorithm::RS256, Some("any"), &claims(), &rsa(&keys().rsa));
        single.verify(&token).await.unwrap();
        // Two keys and no kid in the token: ambiguous, refused.
        let two = set("two.json", &[Some("a"), Some("b")]);
        let token = sign(Algorithm::RS256, None, &claims(), &rsa(&keys().rsa));
        assert_eq!(
            invalid_reason(two.verify(&token).await),
            "unknown signing key"
        );
        let token = sign(
            Algorithm::RS256,
            Some("b"),
            &claims(),
            &rsa(&keys().rotated),
        );
        two.verify(&token).await.unwrap();
    }

    #[tokio::test]
    async fn malformed_tokens_are_refused_without_echo() {
        let v = verifier();
        let long = "a".repeat(MAX_TOKEN_BYTES + 1);
        let cases = [
            "",
            "secret-looking-garbage",
            "a.b.c",
            "a.b.c.d",
            "..",
            &long,
        ];
        for token in cases {
            let reason = invalid_reason(v.verify(token).await);
            assert!(token.len() < 3 || !reason.contains(token), "{reason}");
        }
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","kid":"rsa-1","crit":["x"]}"#);
        let token = format!("{header}.e30.sig");
        assert!(invalid_reason(v.verify(&token).await).contains("critical"));
    }

    /// A one-file HTTP server serving `body` at `/jwks.json`, counting hits.
    struct JwksServer {
        url: String,
        body: Arc<Mutex<String>>,
        hits: Arc<AtomicUsize>,
    }

    impl JwksServer {
        fn start(body: String) -> JwksServer {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
            let body = Arc::new(Mutex::new(body));
            let hits = Arc::new(AtomicUsize::new(0));
            let (b, h) = (body.clone(), hits.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    let Ok(mut stream) = stream else { break };
                    let mut request = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    h.fetch_add(1, Ordering::SeqCst);
                    let body = b.lock().unwrap().clone();
                    let _ = write!(
                        stream,
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                         content-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                }
            });
            JwksServer { url, body, hits }
        }

        fn hits(&self) -> usize {
            self.hits.load(Ordering::SeqCst)
        }
    }

    fn remote(verifier: &mut OidcVerifier) -> &mut RemoteKeys {
        match &mut verifier.keys {
            KeySource::Url(remote) => remote,
            KeySource::File(_) => panic!("not a URL source"),
        }
    }

    #[tokio::test]
    async fn jwks_by_url_with_key_rotation() {
        let server = JwksServer::start(standard_jwks());
        let mut v = OidcVerifier::new(&config(&server.url)).unwrap().unwrap();
        assert_eq!(server.hits(), 0, "fetched lazily");
        v.verify(&rs256(&claims())).await.unwrap();
        v.verify(&rs256(&claims())).await.unwrap();
        assert_eq!(server.hits(), 1, "cached");

        // The provider adds a key; a token names it.
        *server.body.lock().unwrap() = jwks(vec![
            jwk(&rsa(&keys().rsa), Algorithm::RS256, "rsa-1"),
            jwk(&rsa(&keys().rotated), Algorithm::RS256, "rsa-2"),
        ]);
        let rotated = sign(
            Algorithm::RS256,
            Some("rsa-2"),
            &claims(),
            &rsa(&keys().rotated),
        );
        // Right after a fetch, an unknown kid does not trigger another.
        assert_eq!(
            invalid_reason(v.verify(&rotated).await),
            "unknown signing key"
        );
        assert_eq!(server.hits(), 1);
        remote(&mut v).min_refetch = Duration::ZERO;
        v.verify(&rotated).await.unwrap();
        assert_eq!(server.hits(), 2);
        v.verify(&rotated).await.unwrap();
        assert_eq!(server.hits(), 2);
        // A kid the provider does not have either: fetched, then refused.
        let unknown = sign(
            Algorithm::RS256,
            Some("rsa-3"),
            &claims(),
            &rsa(&keys().rotated),
        );
        assert_eq!(
            invalid_reason(v.verify(&unknown).await),
            "unknown signing key"
        );
        assert_eq!(server.hits(), 3);
    }

    #[tokio::test]
    async fn stale_keys_are_refetched_and_serve_when_the_provider_is_down() {
        let server = JwksServer::start(standard_jwks());
        let mut v = OidcVerifier::new(&config(&server.url)).unwrap().unwrap();
        v.verify(&rs256(&claims())).await.unwrap();
        assert_eq!(server.hits(), 1);
        let r = remote(&mut v);
        r.refresh_after = Duration::ZERO;
        r.min_refetch = Duration::ZERO;
        v.verify(&rs256(&claims())).await.unwrap();
        assert_eq!(server.hits(), 2);
        // The provider now answers garbage: the keys already known serve.
        *server.body.lock().unwrap() = "<html>maintenance</html>".into();
        v.verify(&rs256(&claims())).await.unwrap();
        assert_eq!(server.hits(), 3);
    }

    #[tokio::test]
    async fn unreachable_jwks_url_is_unavailable() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let v = OidcVerifier::new(&config(&format!("http://127.0.0.1:{port}/jwks")))
            .unwrap()
            .unwrap();
        let result = v.verify(&rs256(&claims())).await;
        assert!(
            matches!(result, Err(AuthError::Unavailable(_))),
            "{result:?}"
        );
        // Within the re-fetch interval it answers at once, still unavailable.
        let result = v.verify(&rs256(&claims())).await;
        assert!(
            matches!(result, Err(AuthError::Unavailable(_))),
            "{result:?}"
        );
    }

    fn config_error_for(change: impl FnOnce(&mut OidcConfig)) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwks.json");
        std::fs::write(&path, standard_jwks()).unwrap();
        let mut config = config(path.to_str().unwrap());
        change(&mut config);
        match OidcVerifier::new(&config) {
            Err(AuthError::Config(message)) => message,
            other => panic!("expected a Config error, got {other:?}"),
        }
    }

    #[test]
    fn configuration_is_checked() {
        assert!(OidcVerifier::new(&OidcConfig::default()).unwrap().is_none());
        assert!(config_error_for(|c| c.audience.clear()).contains("audience"));
        assert!(config_error_for(|c| c.jwks = None).contains("jwks"));
        let unknown_role = config_error_for(|c| {
            c.role_map.insert("x".into(), "superuser".into());
        });
        assert!(unknown_role.contains("superuser"));
        for alg in ["none", "HS256", "HS512", "XX256"] {
            let message = config_error_for(|c| c.algorithms.push(alg.into()));
            assert!(message.contains("oidc.algorithms"), "{alg}: {message}");
        }
        assert!(config_error_for(|c| c.algorithms.clear()).contains("empty"));
        let http = config_error_for(|c| c.jwks = Some("http://sso.example.org/jwks".into()));
        assert!(http.contains("https"));
        assert!(
            config_error_for(|c| c.jwks = Some("/nonexistent/jwks.json".into()))
                .contains("cannot read")
        );
    }

    #[test]
    fn jwks_files_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            config(path.to_str().unwrap())
        };
        let bad = |c: OidcConfig| matches!(OidcVerifier::new(&c), Err(AuthError::Config(_)));
        assert!(bad(write("garbage.json", "not json")));
        assert!(bad(write("empty.json", r#"{"keys": []}"#)));
        // A symmetric key is never a verification key.
        assert!(bad(write(
            "oct.json",
            r#"{"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "h"}]}"#
        )));
        // Unusable keys are skipped next to a usable one.
        let mut mixed: Value = serde_json::from_str(&standard_jwks()).unwrap();
        let keys = mixed["keys"].as_array_mut().unwrap();
        keys.push(json!({"kty": "oct", "k": "c2VjcmV0", "kid": "h"}));
        keys.push(json!({"kty": "RSA", "use": "enc", "kid": "e", "n": "AQAB", "e": "AQAB"}));
        keys.push(json!({"kty": "weird", "kid": "w"}));
        assert!(
            OidcVerifier::new(&write("mixed.json", &mixed.to_string()))
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn config_defaults_and_unknown_fields() {
        let parsed: OidcConfig = toml::from_str("").unwrap();
        assert_eq!(parsed, OidcConfig::default());
        assert_eq!(parsed.roles_claim, "roles");
        assert_eq!(parsed.algorithms, ["RS256", "ES256"]);
        assert!(toml::from_str::<OidcConfig>("audiences = [\"x\"]").is_err());
        let parsed: OidcConfig = toml::from_str(
            "issuer = \"https://i\"\naudience = [\"a\"]\n[role_map]\n\"dinamis-sci\" = \"scientific\"",
        )
        .unwrap();
        assert_eq!(parsed.role_map["dinamis-sci"], "scientific");
    }

    #[test]
    fn verifier_is_send_and_sync() {
        fn shareable<T: Send + Sync + 'static>() {}
        shareable::<OidcVerifier>();
        shareable::<Arc<OidcVerifier>>();
    }
}
