//! The API's JSON: what clients send ([`JobInput`]) and what they get back
//! ([`JobView`], [`RunView`], …), with their OpenAPI schemas, one module per
//! resource (`jobs`, `runs`, `queues`); chains, channels, sites, users and
//! the console keep theirs beside their handlers. Shared here: [`Page`],
//! [`Items`] and the schema-only `*Doc` enums.
//!
//! These are the HTTP representation, kept apart from the store's
//! persisted types so either can change without the other; the `From`
//! impls are the one place they meet. Enums are serialised by the store's
//! own types; the `*Doc` enums below only describe them in the schema (a
//! test checks they list every value).

mod jobs;
mod queues;
mod runs;

use serde::{Deserialize, Serialize};
#[cfg(test)]
use store::{Language, LogLevel, Misfire, Overlap, RunStatus, Trigger};
use utoipa::ToSchema;

pub(crate) use self::queues::QueueCountsView;
pub use self::{
    jobs::{
        JobInput, JobListItem, JobPage, JobVersionView, JobView, READ_ONLY_JOB_FIELDS,
        RecentRunView, RetentionInput, RetentionView, RetryInput, RetryView, RunSummaryView,
        ScheduleInput,
    },
    runs::{HttpCallView, LogLineView, RunErrorView, RunView},
};

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    /// The items, in the list's order.
    pub items: Vec<T>,
    /// Present when more items follow: pass it as `cursor` for the next page.
    pub next_cursor: Option<String>,
}

impl<S, T: From<S>> From<store::Page<S>> for Page<T> {
    fn from(page: store::Page<S>) -> Self {
        Self {
            items: page.items.into_iter().map(T::from).collect(),
            next_cursor: page.next_cursor,
        }
    }
}

/// A whole list (no paging: users, tokens, channels, sites are few).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Items<T> {
    /// The items, in the list's order.
    pub items: Vec<T>,
}

/// Schema-only descriptions of the store's enums (serialised by the store's types).
macro_rules! doc_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(ToSchema)]
        #[serde(rename_all = "snake_case")]
        #[allow(dead_code)]
        pub(crate) enum $name { $($variant),+ }
    };
}

doc_enum!(
    /// What happens when an occurrence comes while a run is active.
    OverlapDoc { Skip, QueueOne, Allow, Replace }
);
doc_enum!(
    /// The language a script is written in.
    LanguageDoc { Javascript, Typescript }
);
doc_enum!(
    /// What happens to occurrences that passed while nothing was firing.
    MisfireDoc { RunOnce, Skip, RunAll }
);
doc_enum!(
    /// The status of a run.
    RunStatusDoc { Queued, Running, Succeeded, Failed, TimedOut, Cancelled, Interrupted, Skipped, Missed }
);
doc_enum!(
    /// What created a run.
    TriggerDoc { Schedule, Manual, Api, Retry, CatchUp, Continuation, Event }
);
doc_enum!(
    /// What a user or token may do: `viewer` reads, `editor` also changes
    /// and runs jobs, `admin` also manages users, tokens, channels and sites.
    RoleDoc { Viewer, Editor, Admin }
);
doc_enum!(
    /// The level of a log line.
    LogLevelDoc { Debug, Info, Warn, Error }
);

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::PartialSchema;

    fn enum_values<T: PartialSchema>() -> Vec<String> {
        let schema = serde_json::to_value(T::schema()).unwrap();
        schema["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn the_schema_enums_list_every_value_the_store_has() {
        let names = |all: &[&str]| all.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            enum_values::<RunStatusDoc>(),
            names(
                &RunStatus::ALL
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
            )
        );
        assert_eq!(
            enum_values::<TriggerDoc>(),
            names(&Trigger::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>())
        );
        assert_eq!(
            enum_values::<OverlapDoc>(),
            names(&Overlap::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>())
        );
        assert_eq!(
            enum_values::<LanguageDoc>(),
            names(&Language::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>())
        );
        assert_eq!(
            enum_values::<MisfireDoc>(),
            names(&Misfire::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>())
        );
        assert_eq!(
            enum_values::<LogLevelDoc>(),
            names(&LogLevel::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>())
        );
    }
}
