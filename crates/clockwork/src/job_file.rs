//! Declarative job files for `clockwork job apply` and `clockwork job get
//! --format`: one job per TOML or YAML file, with the fields of the API's
//! job JSON, and the script either inline (`script`) or in a file next to
//! it (`script_file`, relative to the job file). The server validates the
//! fields (unknown ones included); this module only reads and writes the
//! file and resolves the script. A `script_file` ending in `.ts`, `.mts` or
//! `.cts` makes the job TypeScript unless the file says `language`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::InvalidInput;

/// A job file read and ready to send: its name and its JSON body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct JobFile {
    /// Where it was read from.
    pub(crate) path: PathBuf,
    /// The job's name (the upsert key).
    pub(crate) name: String,
    /// The job as the API takes it.
    pub(crate) body: Value,
}

/// The files `apply -f` names: a file, or every `.toml`, `.yaml` and `.yml`
/// file directly in a directory, in name order.
pub(crate) fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("cannot list {}", path.display()))?
                .filter_map(|entry| entry.ok().map(|entry| entry.path()))
                .filter(|file| file.is_file() && format_of(file).is_some())
                .collect();
            found.sort();
            if found.is_empty() {
                return Err(InvalidInput(format!(
                    "{} holds no .toml, .yaml or .yml job file",
                    path.display()
                ))
                .into());
            }
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

/// The two formats of a job file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Toml,
    Yaml,
}

fn format_of(path: &Path) -> Option<Format> {
    match path.extension()?.to_str()? {
        "toml" => Some(Format::Toml),
        "yaml" | "yml" => Some(Format::Yaml),
        _ => None,
    }
}

/// Reads one job file and resolves its `script_file`.
pub(crate) fn read(path: &Path) -> Result<JobFile> {
    let invalid = |message: String| InvalidInput(format!("{}: {message}", path.display()));
    let format = format_of(path)
        .ok_or_else(|| invalid("a job file must end in .toml, .yaml or .yml".to_owned()))?;
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut body = parse(&text, format).map_err(invalid)?;
    let Some(fields) = body.as_object_mut() else {
        return Err(invalid("expected a table of job fields at the top level".to_owned()).into());
    };
    if let Some(script_file) = fields.remove("script_file") {
        if fields.contains_key("script") {
            return Err(invalid("give `script` or `script_file`, not both".to_owned()).into());
        }
        let Value::String(relative) = script_file else {
            return Err(invalid("`script_file` must be a path".to_owned()).into());
        };
        let script_path = path.parent().unwrap_or(Path::new(".")).join(&relative);
        let script = std::fs::read_to_string(&script_path).map_err(|error| {
            invalid(format!(
                "cannot read script_file {}: {error}",
                script_path.display()
            ))
        })?;
        fields.insert("script".to_owned(), Value::String(script));
        if runtime::Language::of_path(&script_path) == runtime::Language::TypeScript {
            fields
                .entry("language")
                .or_insert_with(|| Value::String(runtime::Language::TypeScript.to_string()));
        }
    }
    let name = match fields.get("name") {
        Some(Value::String(name)) if !name.is_empty() => name.clone(),
        _ => bail!(invalid(
            "`name` is required: it is the key jobs are applied by".to_owned()
        )),
    };
    Ok(JobFile {
        path: path.to_owned(),
        name,
        body,
    })
}

fn parse(text: &str, format: Format) -> Result<Value, String> {
    match format {
        Format::Toml => toml::from_str::<Value>(text).map_err(|error| {
            // toml's message spans several lines with a caret under the spot.
            format!("invalid TOML: {}", error.to_string().trim_end())
        }),
        Format::Yaml => {
            yaml_serde::from_str::<Value>(text).map_err(|error| format!("invalid YAML: {error}"))
        }
    }
}

/// The order fields are written in: what a reader looks for first, the
/// script last. Fields not named here follow in name order.
const FIELD_ORDER: &[&str] = &[
    "name",
    "description",
    "owner",
    "schedule",
    "enabled",
    "language",
    "handler",
    "queue",
    "timeout_seconds",
    "memory_limit_mb",
    "overlap",
    "misfire",
    "retry",
    "retention",
    "run_as",
    "params",
    "env",
];

/// A job as the API shows it (`GET /jobs/{job}`), written as a job file
/// `apply` takes back: without the read-only fields and the version (so
/// the file applies whatever the job's later history), without empty
/// values, and with the script inline or as `script_file` when given.
pub(crate) fn export(job: &Value, format: Format, script_file: Option<&str>) -> Result<String> {
    let Some(view) = job.as_object() else {
        bail!("the server answered with a job that is not a JSON object");
    };
    let mut fields: Vec<(&str, Value)> = view
        .iter()
        .filter(|(name, value)| is_exported(name) && !value.is_null())
        .map(|(name, value)| (name.as_str(), value.clone()))
        .collect();
    fields.sort_by_key(|(name, _)| {
        FIELD_ORDER
            .iter()
            .position(|known| known == name)
            .unwrap_or(FIELD_ORDER.len())
    });
    let script = fields
        .iter()
        .position(|(name, _)| *name == "script")
        .map(|at| fields.remove(at).1);
    match script_file {
        Some(path) => fields.push(("script_file", Value::String(path.to_owned()))),
        None => fields.extend(script.map(|script| ("script", script))),
    }
    let ordered = Ordered(fields);
    match format {
        Format::Toml => toml::to_string(&ordered).map_err(|error| {
            InvalidInput(format!(
                "this job cannot be written as TOML ({error}); TOML has no null, so try --format yaml"
            ))
            .into()
        }),
        Format::Yaml => Ok(yaml_serde::to_string(&ordered)?),
    }
}

/// Whether a field of the API's job view belongs in a job file.
fn is_exported(name: &str) -> bool {
    name != "version" && !server::READ_ONLY_JOB_FIELDS.contains(&name)
}

/// A table whose fields keep the order they are given in.
struct Ordered<'a>(Vec<(&'a str, Value)>);

impl serde::Serialize for Ordered<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn a_toml_file_with_a_script_file_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "sync.js", "return 42;\n");
        let path = write(
            dir.path(),
            "sync.toml",
            "name = \"sync\"\nscript_file = \"sync.js\"\n\n[schedule]\ncron = \"0 2 * * *\"\ntimezone = \"Europe/Berlin\"\n\n[retry]\nmax_attempts = 3\n",
        );
        let job = read(&path).unwrap();
        assert_eq!(job.name, "sync");
        assert_eq!(
            job.body,
            json!({
                "name": "sync",
                "script": "return 42;\n",
                "schedule": {"cron": "0 2 * * *", "timezone": "Europe/Berlin"},
                "retry": {"max_attempts": 3},
            })
        );
    }

    #[test]
    fn a_typescript_script_file_makes_a_typescript_job() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "sync.ts", "const n: number = 42;\nreturn n;\n");
        write(dir.path(), "plain.mts", "return 1;\n");
        let path = write(
            dir.path(),
            "sync.toml",
            "name = \"sync\"\nscript_file = \"sync.ts\"\n",
        );
        let job = read(&path).unwrap();
        assert_eq!(job.body["language"], "typescript");
        assert_eq!(job.body["script"], "const n: number = 42;\nreturn n;\n");
        // What the file says wins over the extension.
        let path = write(
            dir.path(),
            "plain.toml",
            "name = \"plain\"\nscript_file = \"plain.mts\"\nlanguage = \"javascript\"\n",
        );
        assert_eq!(read(&path).unwrap().body["language"], "javascript");
        // A JavaScript file leaves the field to the server's default.
        write(dir.path(), "js.js", "return 1;\n");
        let path = write(
            dir.path(),
            "js.toml",
            "name = \"js\"\nscript_file = \"js.js\"\n",
        );
        assert!(read(&path).unwrap().body.get("language").is_none());
    }

    #[test]
    fn a_yaml_file_with_an_inline_script() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "report.yaml",
            "name: report\nschedule:\n  cron: '*/10 * * * * *'\nparams:\n  project: OPS\nscript: |\n  console.log('hi');\n  return 1;\n",
        );
        let job = read(&path).unwrap();
        assert_eq!(job.body["script"], "console.log('hi');\nreturn 1;\n");
        assert_eq!(job.body["params"], json!({"project": "OPS"}));
        assert_eq!(job.body["schedule"]["cron"], "*/10 * * * * *");
    }

    #[test]
    fn handler_and_env_are_job_fields() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "sync.toml",
            "name = \"sync\"\nhandler = \"trigger\"\nscript = \"export const trigger = () => 1;\"\n\n[env]\nREGION = \"eu\"\nAPI_KEY = \"secret:jira-key\"\n",
        );
        let job = read(&path).unwrap();
        assert_eq!(job.body["handler"], "trigger");
        assert_eq!(
            job.body["env"],
            json!({"REGION": "eu", "API_KEY": "secret:jira-key"})
        );
    }

    #[test]
    fn unknown_fields_are_left_for_the_server_to_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "a.toml",
            "name = \"a\"\nscript = \"\"\ncolour = 1\n",
        );
        assert_eq!(read(&path).unwrap().body["colour"], 1);
    }

    #[test]
    fn problems_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            ("bad.toml", "name = ", "invalid TOML"),
            ("bad.yaml", "name: [", "invalid YAML"),
            ("noname.toml", "script = \"\"", "`name` is required"),
            ("list.yaml", "- 1\n- 2\n", "expected a table"),
            (
                "both.toml",
                "name = \"a\"\nscript = \"\"\nscript_file = \"x.js\"",
                "not both",
            ),
            (
                "missing.toml",
                "name = \"a\"\nscript_file = \"nope.js\"",
                "cannot read script_file",
            ),
            ("job.json", "{}", "must end in .toml"),
        ];
        for (name, text, expected) in cases {
            let path = write(dir.path(), name, text);
            let error = read(&path).unwrap_err();
            assert!(error.is::<InvalidInput>(), "{name}: {error:#}");
            let message = error.to_string();
            assert!(
                message.starts_with(&path.display().to_string()),
                "{message}"
            );
            assert!(message.contains(expected), "{name}: {message}");
        }
    }

    #[test]
    fn a_directory_applies_its_job_files_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "b.yml", "");
        write(dir.path(), "a.toml", "");
        write(dir.path(), "script.js", "");
        let files = collect(&[dir.path().to_owned()]).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|f| f.file_name().unwrap().to_str().unwrap().to_owned())
            .collect();
        assert_eq!(names, ["a.toml", "b.yml"]);
        let empty = tempfile::tempdir().unwrap();
        assert!(collect(&[empty.path().to_owned()]).is_err());
    }

    #[test]
    fn an_exported_job_reads_top_down_with_the_script_last() {
        let view = json!({
            "id": 7, "version": 3, "name": "sync", "created_at": "2026-01-01T00:00:00Z",
            "script": "console.log('x');\nreturn 1;\n", "enabled": true,
            "schedule": {"cron": "0 2 * * *", "timezone": "UTC"},
            "params": {"project": "OPS"}, "next_fire_at": null, "run_as": null,
        });
        let toml = export(&view, Format::Toml, None).unwrap();
        assert_eq!(
            toml,
            "name = \"sync\"\nenabled = true\nscript = \"\"\"\nconsole.log('x');\nreturn 1;\n\"\"\"\n\n\
             [schedule]\ncron = \"0 2 * * *\"\ntimezone = \"UTC\"\n\n[params]\nproject = \"OPS\"\n"
        );
        let yaml = export(&view, Format::Yaml, Some("sync.js")).unwrap();
        assert_eq!(
            yaml,
            "name: sync\nschedule:\n  cron: 0 2 * * *\n  timezone: UTC\nenabled: true\nparams:\n  project: OPS\nscript_file: sync.js\n"
        );
    }

    #[test]
    fn a_null_inside_params_cannot_be_toml_and_says_what_to_use() {
        let view = json!({"name": "n", "script": "return 1", "params": {"a": null}});
        let error = export(&view, Format::Toml, None).unwrap_err().to_string();
        assert!(error.contains("try --format yaml"), "{error}");
        assert!(export(&view, Format::Yaml, None).is_ok());
    }
}
