//! English descriptions of schedules.

use crate::spec::Spec;

pub(crate) fn describe(_spec: &Spec) -> String {
    String::new()
}

pub(crate) fn month_names_or(_months: u16) -> String {
    String::new()
}
