//! Console runs' storage: the environment's own, with every secret the
//! script reads recorded in the audit log under the user who ran it (a
//! console run has no history of its own to show what it looked at).

use std::sync::Arc;
use std::time::Duration;

use runtime::{KvError, KvOp, KvPage, KvSetItem, KvStore};
use serde_json::{Value, json};

use crate::app::AppState;

/// Delegates everything to `inner`; audits `secret_get`.
pub(crate) struct AuditedSecrets {
    pub(crate) inner: Arc<dyn KvStore>,
    pub(crate) state: AppState,
    pub(crate) actor: String,
}

#[async_trait::async_trait]
impl KvStore for AuditedSecrets {
    async fn get(&self, key: &str) -> Result<Option<Value>, KvError> {
        self.inner.get(key).await
    }

    async fn set(
        &self,
        key: &str,
        value: Value,
        ttl: Option<Duration>,
        if_absent: bool,
    ) -> Result<(), KvError> {
        self.inner.set(key, value, ttl, if_absent).await
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        self.inner.delete(key).await
    }

    async fn list(
        &self,
        prefix: &str,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<KvPage, KvError> {
        self.inner.list(prefix, limit, cursor).await
    }

    async fn batch_get(&self, keys: &[String]) -> Result<Vec<(String, Value)>, KvError> {
        self.inner.batch_get(keys).await
    }

    async fn batch_set(&self, items: Vec<KvSetItem>) -> Result<(), KvError> {
        self.inner.batch_set(items).await
    }

    async fn batch_delete(&self, keys: &[String]) -> Result<(), KvError> {
        self.inner.batch_delete(keys).await
    }

    async fn transact(&self, ops: Vec<KvOp>) -> Result<(), KvError> {
        self.inner.transact(ops).await
    }

    async fn secret_get(&self, key: &str) -> Result<Option<Value>, KvError> {
        let value = self.inner.secret_get(key).await?;
        self.state
            .audit(
                &self.actor,
                "secret.read",
                &format!("secret:{key}"),
                json!({"console": true, "found": value.is_some()}),
            )
            .await;
        Ok(value)
    }

    async fn secret_set(&self, key: &str, value: Value) -> Result<(), KvError> {
        self.inner.secret_set(key, value).await
    }

    async fn secret_delete(&self, key: &str) -> Result<(), KvError> {
        self.inner.secret_delete(key).await
    }
}
