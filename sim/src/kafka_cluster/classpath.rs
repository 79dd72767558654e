//! # Finding Kafka: a `java` to run and the jars to run it with
//!
//! A Kafka distribution is a set of jars (`libs/*.jar`) plus shell scripts that start
//! `java` with them: `kafka-server-start.sh` runs the class `kafka.Kafka`,
//! `kafka-storage.sh` runs `kafka.tools.StorageTool`. kraftsim skips the scripts and starts
//! the classes itself, so all it needs is the *classpath*, the colon-separated list of jars.
//!
//! Where it comes from, first match wins:
//!
//! 1. an explicit Kafka home (`--kafka-home DIR`): `DIR/libs/*`, Java's classpath wildcard;
//! 2. `KRAFTSIM_KAFKA_CLASSPATH`: a file holding the classpath, or the classpath itself;
//! 3. the nearest `oracle/target/classpath.txt`, written by `bash oracle/fetch.sh` from
//!    Maven Central (Kafka 4.4.0's server, tools and client), searched upwards from the
//!    current directory and from this crate's workspace.
//!
//! Every entry must exist: a classpath naming jars that were since removed from `~/.m2`
//! would otherwise fail later, inside the JVM, with a `ClassNotFoundException`.

use super::KafkaClusterError;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The environment variable that names the classpath (a file, or the classpath itself).
pub const CLASSPATH_ENV: &str = "KRAFTSIM_KAFKA_CLASSPATH";
/// Where `oracle/fetch.sh` writes the classpath, relative to the workspace root.
pub const FETCHED_CLASSPATH: &str = "oracle/target/classpath.txt";

/// A classpath and where it came from (for error messages).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Classpath {
    pub value: String,
    pub origin: String,
}

/// The classpath, by the rules in the module doc. `search_from` are the directories whose
/// ancestors may hold `oracle/target/classpath.txt`.
pub fn discover(
    kafka_home: Option<&Path>,
    env: Option<OsString>,
    search_from: &[PathBuf],
) -> Result<Classpath, KafkaClusterError> {
    let classpath = if let Some(home) = kafka_home {
        from_kafka_home(home)?
    } else if let Some(value) = env.filter(|v| !v.is_empty()) {
        from_env(&value)?
    } else {
        from_fetched(search_from)?
    };
    check_entries(&classpath)?;
    Ok(classpath)
}

/// The directories [`discover`] searches by default: the current one and the workspace
/// this crate was built in.
pub fn default_search_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        dirs.push(cwd);
    }
    dirs.push(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."));
    dirs
}

fn from_kafka_home(home: &Path) -> Result<Classpath, KafkaClusterError> {
    let libs = home.join("libs");
    let has_jars = std::fs::read_dir(&libs)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .any(|e| e.path().extension().is_some_and(|x| x == "jar"))
        })
        .unwrap_or(false);
    if !has_jars {
        return Err(KafkaClusterError::BadClasspath {
            origin: format!("--kafka-home {}", home.display()),
            why: format!(
                "{} holds no jars (is it an unpacked Kafka?)",
                libs.display()
            ),
        });
    }
    Ok(Classpath {
        value: format!("{}/*", libs.display()),
        origin: format!("--kafka-home {}", home.display()),
    })
}

fn from_env(value: &std::ffi::OsStr) -> Result<Classpath, KafkaClusterError> {
    let path = Path::new(value);
    if path.is_file() {
        return read_classpath_file(path, format!("{CLASSPATH_ENV}={}", path.display()));
    }
    Ok(Classpath {
        value: value.to_string_lossy().trim().to_string(),
        origin: CLASSPATH_ENV.to_string(),
    })
}

fn from_fetched(search_from: &[PathBuf]) -> Result<Classpath, KafkaClusterError> {
    let mut searched = Vec::new();
    for start in search_from {
        for dir in start.ancestors() {
            let candidate = dir.join(FETCHED_CLASSPATH);
            if candidate.is_file() {
                return read_classpath_file(&candidate, candidate.display().to_string());
            }
        }
        searched.push(format!("{FETCHED_CLASSPATH} above {}", start.display()));
    }
    Err(KafkaClusterError::NoClasspath {
        searched: searched.join(", "),
    })
}

fn read_classpath_file(path: &Path, origin: String) -> Result<Classpath, KafkaClusterError> {
    let value = std::fs::read_to_string(path)
        .map_err(KafkaClusterError::io(format!("read {}", path.display())))?;
    Ok(Classpath {
        value: value.trim().to_string(),
        origin,
    })
}

/// Every entry exists (a `DIR/*` wildcard: the directory exists).
fn check_entries(classpath: &Classpath) -> Result<(), KafkaClusterError> {
    let entries: Vec<&str> = classpath
        .value
        .split(':')
        .filter(|e| !e.is_empty())
        .collect();
    if entries.is_empty() {
        return Err(KafkaClusterError::BadClasspath {
            origin: classpath.origin.clone(),
            why: "it is empty".into(),
        });
    }
    let missing: Vec<&str> = entries
        .iter()
        .copied()
        .filter(|e| {
            let path = e.strip_suffix("/*").unwrap_or(e);
            !Path::new(path).exists()
        })
        .collect();
    match missing.first() {
        None => Ok(()),
        Some(first) => Err(KafkaClusterError::BadClasspath {
            origin: classpath.origin.clone(),
            why: format!(
                "{} of its {} entries do not exist (first: {first})",
                missing.len(),
                entries.len()
            ),
        }),
    }
}

/// The `java` executable on `PATH`.
pub fn find_java(path: Option<OsString>) -> Result<PathBuf, KafkaClusterError> {
    let path = path.ok_or(KafkaClusterError::NoJava)?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("java"))
        .find(|candidate| candidate.is_file())
        .ok_or(KafkaClusterError::NoJava)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "kraftsim-classpath-test-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        dir
    }

    #[test]
    fn nothing_found_tells_the_user_to_run_fetch_sh() {
        let dir = scratch("nothing");
        let err = discover(None, None, std::slice::from_ref(&dir)).expect_err("no classpath");
        let text = err.to_string();
        assert!(text.contains("bash oracle/fetch.sh"), "{text}");
        assert!(text.contains("--kafka-home"), "{text}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn the_fetched_file_is_found_from_a_subdirectory() {
        let root = scratch("fetched");
        let jar = root.join("a.jar");
        std::fs::write(&jar, b"").expect("jar");
        std::fs::create_dir_all(root.join("oracle/target")).expect("dirs");
        std::fs::create_dir_all(root.join("sim/src")).expect("dirs");
        std::fs::write(root.join(FETCHED_CLASSPATH), format!("{}\n", jar.display()))
            .expect("classpath.txt");
        let cp = discover(None, None, &[root.join("sim/src")]).expect("found");
        assert_eq!(cp.value, jar.display().to_string());
        let _ = std::fs::remove_dir_all(root);
    }

    #[test]
    fn a_classpath_naming_missing_jars_is_refused() {
        let env = OsString::from("/nonexistent/kraftsim/kafka.jar");
        let err = discover(None, Some(env), &[]).expect_err("missing jar");
        assert!(err.to_string().contains("bash oracle/fetch.sh"), "{err}");
    }

    #[test]
    fn a_kafka_home_without_jars_is_refused() {
        let home = scratch("home");
        let err = discover(Some(&home), None, &[]).expect_err("no libs");
        assert!(err.to_string().contains("holds no jars"), "{err}");
        std::fs::create_dir_all(home.join("libs")).expect("libs");
        std::fs::write(home.join("libs/kafka.jar"), b"").expect("jar");
        let cp = discover(Some(&home), None, &[]).expect("home");
        assert!(cp.value.ends_with("libs/*"));
        let _ = std::fs::remove_dir_all(home);
    }

    #[test]
    fn java_is_looked_up_on_path() {
        let dir = scratch("java");
        assert!(matches!(
            find_java(Some(dir.clone().into_os_string())),
            Err(KafkaClusterError::NoJava)
        ));
        std::fs::write(dir.join("java"), b"").expect("java");
        assert_eq!(
            find_java(Some(dir.clone().into_os_string())).expect("found"),
            dir.join("java")
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
