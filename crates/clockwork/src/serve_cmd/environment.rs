//! What runs of `clockwork serve` reach outside their sandbox: the
//! configured site (with the job's `run_as` user credential), storage and
//! `@forge/events` queues in the database, and the egress client with the
//! allow-list.

use std::{collections::BTreeMap, sync::Arc};

use runtime::{Credential, KvStore, QueueBackend, Services, Sites};
use scheduler::RunEnvironment;
use store::{JobSpec, Run};

/// The run environment of a server.
pub(crate) struct ServeEnvironment {
    sites: Sites,
    users: BTreeMap<String, Credential>,
    kv: Arc<dyn KvStore>,
    queue: Arc<dyn QueueBackend>,
    http: egress::Client,
}

impl ServeEnvironment {
    pub(crate) fn new(
        sites: Sites,
        users: BTreeMap<String, Credential>,
        kv: Arc<dyn KvStore>,
        queue: Arc<dyn QueueBackend>,
        http: egress::Client,
    ) -> Self {
        Self {
            sites,
            users,
            kv,
            queue,
            http,
        }
    }
}

impl RunEnvironment for ServeEnvironment {
    fn prepare(&self, job: &JobSpec, _run: &Run) -> (Sites, Services) {
        let mut sites = self.sites.clone();
        // A name the configuration lacks was refused on save; a credential
        // removed since then leaves `asUser()` failing clearly.
        sites.user = job
            .run_as
            .as_ref()
            .and_then(|name| self.users.get(name).cloned());
        let services = Services {
            kv: Arc::clone(&self.kv),
            queue: Arc::clone(&self.queue),
            http: Some(self.http.clone()),
        };
        (sites, services)
    }
}
