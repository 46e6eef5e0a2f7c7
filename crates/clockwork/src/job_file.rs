//! Declarative job files for `clockwork job apply`: one job per TOML or
//! YAML file, with the fields of the API's job JSON, and the script either
//! inline (`script`) or in a file next to it (`script_file`, relative to the
//! job file). The server validates the fields (unknown ones included); this
//! module only reads the file and resolves the script. A `script_file`
//! ending in `.ts`, `.mts` or `.cts` makes the job TypeScript unless the
//! file says `language`.

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
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
}
