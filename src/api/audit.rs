//! The audit trail: every grant and denial goes to the store's `audit` table
//! and to the structured log (target `tuilerie::audit`).

use super::AppState;
use crate::catalog::accounts::AuditEvent;

/// Records an event. A store failure is logged, not returned: the request's
/// own outcome does not depend on the trail (the log line is always written).
pub async fn record(state: &AppState, event: AuditEvent) {
    tracing::info!(
        target: "tuilerie::audit",
        action = %event.action,
        outcome = %event.outcome,
        user = event.user.as_deref().unwrap_or("-"),
        credential = event.credential.as_deref().unwrap_or("-"),
        address = event.address.as_deref().unwrap_or("-"),
        collection = event.collection.as_deref().unwrap_or("-"),
        item = event.item.as_deref().unwrap_or("-"),
        asset = event.asset.as_deref().unwrap_or("-"),
        area_km2 = event.area_km2.unwrap_or(0.0),
        "{}",
        event.detail
    );
    if let Err(e) = state.catalog.accounts().audit(&event).await {
        tracing::error!(target: "tuilerie::audit", "the audit event could not be stored: {e}");
    }
}
