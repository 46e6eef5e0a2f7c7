//! What runs of `clockwork serve` reach outside their sandbox: the
//! configured and stored sites (with the job's `run_as` user credential),
//! storage and `@forge/events` queues in the database, and the egress
//! client with the allow-list. Console and test runs
//! (`scheduler::ConsoleEnvironment`) get the same.

use std::{collections::BTreeMap, sync::Arc};

use runtime::{Credential, EntityCatalog, KvStore, QueueBackend, Services, Sites};
use scheduler::RunEnvironment;
use store::{JobSpec, Run};

/// The run environment of a server.
pub(crate) struct ServeEnvironment {
    sites: Arc<server::SiteBook>,
    users: BTreeMap<String, Credential>,
    kv: Arc<dyn KvStore>,
    entities: Arc<EntityCatalog>,
    queue: Arc<dyn QueueBackend>,
    http: egress::Client,
}

impl ServeEnvironment {
    pub(crate) fn new(
        sites: Arc<server::SiteBook>,
        users: BTreeMap<String, Credential>,
        kv: Arc<dyn KvStore>,
        entities: Arc<EntityCatalog>,
        queue: Arc<dyn QueueBackend>,
        http: egress::Client,
    ) -> Self {
        Self {
            sites,
            users,
            kv,
            entities,
            queue,
            http,
        }
    }
}

impl RunEnvironment for ServeEnvironment {
    fn prepare(&self, job: &JobSpec, _run: &Run) -> (Sites, Services) {
        self.prepare_for(Some(job))
    }
}

/// Console and test runs get exactly what scheduled runs get.
impl scheduler::ConsoleEnvironment for ServeEnvironment {
    fn prepare(&self, job: Option<&JobSpec>) -> (Sites, Services) {
        self.prepare_for(job)
    }
}

impl ServeEnvironment {
    fn prepare_for(&self, job: Option<&JobSpec>) -> (Sites, Services) {
        // The configuration's sites and those added through the API, as of now.
        let mut sites = self.sites.effective();
        // A name the configuration lacks was refused on save; a credential
        // removed since then leaves `asUser()` failing clearly.
        sites.user = job
            .and_then(|job| job.run_as.as_ref())
            .and_then(|name| self.users.get(name).cloned());
        let services = Services {
            kv: Arc::clone(&self.kv),
            entities: Arc::clone(&self.entities),
            queue: Arc::clone(&self.queue),
            http: Some(self.http.clone()),
        };
        (sites, services)
    }
}
