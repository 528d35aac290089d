//! `deploy/`: every YAML file parses and is structurally right (Kubernetes
//! objects, compose services, Prometheus and Grafana configuration); the
//! exporter's flags, port and probe paths agree everywhere; the generated
//! ConfigMap and PrometheusRule match `rules/` and `alertmanager/rules.yml`;
//! the systemd units pass `systemd-analyze verify` and a security threshold;
//! Prometheus' own `promtool check config` and (when kubectl is installed)
//! `kubectl kustomize` accept the files.
//!
//! Regenerate the two generated manifests after changing `rules/` or
//! `alertmanager/rules.yml`: `FLEET_REGENERATE=1 cargo test --test it deploy::`.

use crate::common;

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Flags `fleet-incentives serve` accepts (issue 3: Prometheus-style), the
/// ONE list the manifests are checked against; `serve --help` is checked
/// against it once `serve` exists.
const SERVE_FLAGS: &[&str] = &[
    "--web.listen-address",
    "--prometheus.url",
    "--alertmanager.url",
    "--rules.dir",
    "--evaluation-interval",
    "--evaluation.delay",
    "--web.enable-lifecycle",
    "--web.config.file",
    "--log.level",
    "--log.format",
];

/// Flags of `fleet-incentives close` the CronJob and the systemd timer use.
const CLOSE_FLAGS: &[&str] =
    &["--period", "--out", "--prometheus.url", "--alertmanager.url", "--rules.dir", "--log.level", "--log.format"];

/// The exporter's port, everywhere.
const PORT: u64 = 9464;

const REGENERATE: &str = "FLEET_REGENERATE";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn deploy() -> PathBuf {
    root().join("deploy")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every document of a YAML file as a generic value.
fn yaml_docs(path: &Path) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(&read(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn yaml(path: &Path) -> Value {
    let mut docs = yaml_docs(path);
    assert_eq!(docs.len(), 1, "{}: one YAML document", path.display());
    docs.remove(0)
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// `--name` of every flag among `args` (`--name=value` or `--name value`).
fn flags<'a>(args: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    args.into_iter()
        .flat_map(|a| a.split_whitespace())
        .filter(|a| a.starts_with("--"))
        .map(|a| a.split('=').next().unwrap().to_string())
        .collect()
}

fn assert_flags_known(place: &str, used: &[String], known: &[&str]) {
    assert!(!used.is_empty(), "{place}: no flags found");
    for f in used {
        assert!(known.contains(&f.as_str()), "{place}: flag {f} is not one `fleet-incentives` accepts ({known:?})");
    }
}

/// The port of `--web.listen-address=HOST:PORT` among `args`.
fn listen_port<'a>(args: impl IntoIterator<Item = &'a str>) -> u64 {
    let arg = args
        .into_iter()
        .flat_map(|a| a.split_whitespace())
        .find_map(|a| a.strip_prefix("--web.listen-address="))
        .expect("--web.listen-address=HOST:PORT");
    arg.rsplit_once(':').unwrap().1.parse().unwrap()
}

fn str_list(v: &Value) -> Vec<&str> {
    v.as_array().unwrap_or_else(|| panic!("not a list: {v}")).iter().map(|x| x.as_str().unwrap()).collect()
}

// ----------------------------------------------------------- YAML in general

#[test]
fn every_yaml_file_in_deploy_parses() {
    let mut files = vec![];
    files_under(&deploy(), &mut files);
    let yaml_files: Vec<&PathBuf> =
        files.iter().filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml")).collect();
    assert!(yaml_files.len() >= 10, "{yaml_files:?}");
    for f in yaml_files {
        let docs = yaml_docs(f);
        assert!(!docs.is_empty() && docs.iter().all(|d| d.is_object()), "{}: a mapping", f.display());
    }
}

// -------------------------------------------------------------- Kubernetes

fn k8s_dir() -> PathBuf {
    deploy().join("kubernetes")
}

/// Every object of the manifests that kustomization.yaml lists, with its file.
fn k8s_objects() -> Vec<(String, Value)> {
    let kustomization = yaml(&k8s_dir().join("kustomization.yaml"));
    str_list(&kustomization["resources"])
        .into_iter()
        .flat_map(|f| yaml_docs(&k8s_dir().join(f)).into_iter().map(move |d| (f.to_string(), d)))
        .collect()
}

fn object<'a>(objects: &'a [(String, Value)], kind: &str) -> &'a Value {
    let found: Vec<&Value> = objects.iter().filter(|(_, o)| o["kind"] == kind).map(|(_, o)| o).collect();
    assert_eq!(found.len(), 1, "one {kind}");
    found[0]
}

fn labels_match(selector: &Value, labels: &Value) -> bool {
    selector.as_object().is_some_and(|s| !s.is_empty() && s.iter().all(|(k, v)| &labels[k] == v))
}

#[test]
fn kubernetes_objects_have_api_version_kind_and_name_and_kustomize_lists_every_file() {
    let kustomization = yaml(&k8s_dir().join("kustomization.yaml"));
    let listed: BTreeSet<&str> = str_list(&kustomization["resources"]).into_iter().collect();
    let on_disk: BTreeSet<String> = std::fs::read_dir(k8s_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|f| f.ends_with(".yaml") && f != "kustomization.yaml")
        .collect();
    assert_eq!(listed, on_disk.iter().map(String::as_str).collect(), "kustomization.yaml resources vs files");
    let mut names = BTreeSet::new();
    let objects = k8s_objects();
    for (file, o) in &objects {
        assert!(o["apiVersion"].as_str().is_some_and(|v| !v.is_empty()), "{file}: apiVersion");
        let kind = o["kind"].as_str().unwrap_or_else(|| panic!("{file}: kind"));
        let name = o["metadata"]["name"].as_str().unwrap_or_else(|| panic!("{file}: metadata.name"));
        assert!(names.insert((kind.to_string(), name.to_string())), "{file}: {kind}/{name} twice");
    }
    let kinds: BTreeSet<&str> = objects.iter().map(|(_, o)| o["kind"].as_str().unwrap()).collect();
    for kind in ["Deployment", "Service", "ConfigMap", "ServiceMonitor", "PrometheusRule", "CronJob"] {
        assert!(kinds.contains(kind), "no {kind}");
    }
}

#[test]
fn the_deployment_runs_serve_with_known_flags_probes_and_a_locked_down_container() {
    let objects = k8s_objects();
    let d = object(&objects, "Deployment");
    assert_eq!(d["apiVersion"], "apps/v1");
    assert_eq!(d["spec"]["replicas"], 1, "one replica: two would export every series twice");
    let pod = &d["spec"]["template"];
    assert!(labels_match(&d["spec"]["selector"]["matchLabels"], &pod["metadata"]["labels"]), "selector vs pod labels");
    assert_eq!(pod["spec"]["securityContext"]["runAsNonRoot"], true);
    let c = &pod["spec"]["containers"][0];
    let args = str_list(&c["args"]);
    assert_eq!(args[0], "serve");
    assert_flags_known("Deployment args", &flags(args.iter().copied()), SERVE_FLAGS);
    assert_eq!(listen_port(args.iter().copied()), PORT);
    let port = c["ports"].as_array().unwrap().iter().find(|p| p["name"] == "metrics").expect("a port named metrics");
    assert_eq!(port["containerPort"], PORT);
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/-/healthy");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/-/ready");
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    // The rules come from the ConfigMap, mounted where --rules.dir points.
    let rules_dir = args.iter().find_map(|a| a.strip_prefix("--rules.dir=")).unwrap();
    let mount = c["volumeMounts"].as_array().unwrap().iter().find(|m| m["mountPath"] == rules_dir).unwrap();
    let volume = pod["spec"]["volumes"].as_array().unwrap().iter().find(|v| v["name"] == mount["name"]).unwrap();
    assert_eq!(volume["configMap"]["name"], object(&objects, "ConfigMap")["metadata"]["name"]);
    // The reload sidecar calls the lifecycle endpoint, which needs the flag.
    let reload =
        pod["spec"]["containers"].as_array().unwrap().iter().find(|c| c["name"] == "configmap-reload").unwrap();
    assert!(str_list(&reload["args"]).contains(&format!("--webhook-url=http://127.0.0.1:{PORT}/-/reload").as_str()));
    assert!(args.contains(&"--web.enable-lifecycle"));
}

#[test]
fn service_servicemonitor_and_deployment_agree_on_labels_and_the_metrics_port() {
    let objects = k8s_objects();
    let d = object(&objects, "Deployment");
    let s = object(&objects, "Service");
    let m = object(&objects, "ServiceMonitor");
    assert!(labels_match(&s["spec"]["selector"], &d["spec"]["template"]["metadata"]["labels"]), "Service → pods");
    let sp = &s["spec"]["ports"][0];
    assert_eq!(sp["port"], PORT);
    let container_ports = d["spec"]["template"]["spec"]["containers"][0]["ports"].as_array().unwrap();
    assert!(container_ports.iter().any(|p| p["name"] == sp["targetPort"]), "Service targetPort names a container port");
    assert_eq!(m["apiVersion"], "monitoring.coreos.com/v1");
    assert!(labels_match(&m["spec"]["selector"]["matchLabels"], &s["metadata"]["labels"]), "ServiceMonitor → Service");
    let e = &m["spec"]["endpoints"][0];
    assert_eq!(e["port"], sp["name"], "ServiceMonitor endpoint port is the Service's port name");
    assert_eq!(e["path"], "/metrics");
}

#[test]
fn the_cronjob_closes_the_previous_month_on_the_first_with_known_flags() {
    let objects = k8s_objects();
    let j = object(&objects, "CronJob");
    assert_eq!(j["apiVersion"], "batch/v1");
    let schedule: Vec<&str> = j["spec"]["schedule"].as_str().unwrap().split_whitespace().collect();
    assert_eq!(schedule[2..], ["1", "*", "*"], "on the 1st of every month");
    assert_eq!(j["spec"]["timeZone"], "Etc/UTC");
    let pod = &j["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    let script = str_list(&c["args"]).join(" ");
    assert!(script.contains("fleet-incentives close"), "{script}");
    assert_flags_known("CronJob", &flags([script.as_str()]), CLOSE_FLAGS);
    // Kubernetes expands $(VAR) in args: the shell's $(...) must be written $$(...).
    assert!(!script.replace("$$(", "").contains("$("), "unescaped $( in {script}");
    // The shell computes the previous month the way the script does.
    let shell = script.replace("$$(", "$(").replace("exec /usr/local/bin/fleet-incentives close", "echo");
    let out = Command::new("sh").args(["-c", &shell]).output().unwrap();
    let printed = String::from_utf8_lossy(&out.stdout);
    let period = printed.split_whitespace().nth(1).unwrap_or("");
    let today = chrono::Utc::now().date_naive();
    let previous = today.with_day(1).unwrap() - chrono::Duration::days(1);
    assert_eq!(period, previous.format("%Y-%m").to_string(), "{printed}");
    let claim =
        pod["volumes"].as_array().unwrap().iter().find_map(|v| v["persistentVolumeClaim"]["claimName"].as_str());
    assert_eq!(claim, object(&objects, "PersistentVolumeClaim")["metadata"]["name"].as_str());
}

use chrono::Datelike;

// ---------------------------------------- generated: ConfigMap and PrometheusRule

const GENERATED: &str = "# GENERATED by `FLEET_REGENERATE=1 cargo test --test it deploy::`; do not edit.\n";

fn regenerate() -> bool {
    std::env::var_os(REGENERATE).is_some()
}

/// The top-level rule files of `rules/` (the rule set `serve` loads; tests
/// and examples stay in the repository).
fn rule_files() -> BTreeMap<String, String> {
    std::fs::read_dir(root().join("rules"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), read(&p)))
        .collect()
}

/// `text` as a YAML block scalar indented by `indent` spaces.
fn block_scalar(text: &str, indent: usize) -> String {
    let chomp = if text.ends_with("\n\n") {
        "+"
    } else if text.ends_with('\n') {
        ""
    } else {
        "-"
    };
    let pad = " ".repeat(indent);
    let indicator = if text.starts_with(' ') { indent.to_string() } else { String::new() };
    let mut out = format!("|{indicator}{chomp}\n");
    for line in text.strip_suffix('\n').unwrap_or(text).split('\n') {
        if line.is_empty() {
            out.push('\n');
        } else {
            out.push_str(&format!("{pad}{line}\n"));
        }
    }
    out
}

fn configmap_text() -> String {
    let mut out = format!(
        "{GENERATED}# The rule set (rules/*.yaml) for the exporter and the monthly close.\n\
         apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fleet-incentives-rules\n  labels:\n    \
         app.kubernetes.io/name: fleet-incentives\ndata:\n"
    );
    for (name, text) in rule_files() {
        out.push_str(&format!("  {name}: {}", block_scalar(&text, 4)));
    }
    out
}

fn alert_rules_path() -> PathBuf {
    root().join("alertmanager").join("rules.yml")
}

fn prometheusrule_text() -> String {
    let head = format!(
        "{GENERATED}# The alert rules of alertmanager/rules.yml for the Prometheus Operator.\n\
         apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata:\n  name: fleet-incentives\n  labels:\n    \
         app.kubernetes.io/name: fleet-incentives\n    release: kube-prometheus-stack\nspec:\n"
    );
    match std::fs::read_to_string(alert_rules_path()) {
        Ok(rules) => {
            let body: String = rules
                .lines()
                .filter(|l| *l != "---")
                .map(|l| if l.is_empty() { "\n".to_string() } else { format!("  {l}\n") })
                .collect();
            head + &body
        }
        Err(_) => head + "  groups: []   # alertmanager/rules.yml does not exist yet\n",
    }
}

/// Compare a generated file with what it should hold; rewrite it under
/// FLEET_REGENERATE.
fn check_generated(path: &Path, expected: &str, same: impl Fn(&Value) -> Result<(), String>) {
    if regenerate() {
        std::fs::write(path, expected).unwrap();
    }
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let value = serde_saphyr::from_str::<Value>(&text).map_err(|e| e.to_string());
    let verdict = value.and_then(|v| same(&v));
    if let Err(e) = verdict {
        panic!("{} is out of date ({e}): run `{REGENERATE}=1 cargo test --test it deploy::`", path.display());
    }
    assert_eq!(text, expected, "{}: regenerate with `{REGENERATE}=1 cargo test --test it deploy::`", path.display());
}

#[test]
fn the_rules_configmap_holds_exactly_the_rule_files() {
    let path = k8s_dir().join("configmap-rules.yaml");
    check_generated(&path, &configmap_text(), |v| {
        let files = rule_files();
        let data = v["data"].as_object().ok_or("no data")?;
        let keys: BTreeSet<&String> = data.keys().collect();
        if keys != files.keys().collect() {
            return Err(format!("keys {keys:?}"));
        }
        for (name, text) in &files {
            if data[name].as_str() != Some(text.as_str()) {
                return Err(format!("{name} differs"));
            }
        }
        Ok(())
    });
    // What the pod sees at --rules.dir is a complete rule set.
    let dir = tempfile::tempdir().unwrap();
    let configmap = yaml(&path);
    for (name, text) in configmap["data"].as_object().unwrap() {
        std::fs::write(dir.path().join(name), text.as_str().unwrap()).unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_fleet-incentives")).arg("check").arg(dir.path()).output().unwrap();
    assert!(
        out.status.success(),
        "`fleet-incentives check` on the ConfigMap's files:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_prometheusrule_holds_the_alert_rules_of_alertmanager() {
    let path = k8s_dir().join("prometheusrule.yaml");
    check_generated(&path, &prometheusrule_text(), |v| {
        let groups = &v["spec"]["groups"];
        match std::fs::read_to_string(alert_rules_path()) {
            Ok(text) => {
                let rules: Value = serde_saphyr::from_str(&text).map_err(|e| e.to_string())?;
                if groups != &rules["groups"] { Err("groups differ".into()) } else { Ok(()) }
            }
            Err(_) => {
                println!("notice: alertmanager/rules.yml does not exist yet: the PrometheusRule has no groups");
                if groups == &Value::Array(vec![]) { Ok(()) } else { Err("expected no groups".into()) }
            }
        }
    });
}

#[test]
fn kubectl_kustomize_renders_the_manifests() {
    let Some(kubectl) = which("kubectl") else {
        println!("notice: kubectl is not installed: `kubectl kustomize deploy/kubernetes` not checked");
        return;
    };
    let out = Command::new(kubectl).arg("kustomize").arg(k8s_dir()).output().unwrap();
    assert!(out.status.success(), "kubectl kustomize: {}", String::from_utf8_lossy(&out.stderr));
    let docs: Vec<Value> = serde_saphyr::from_multiple(&String::from_utf8_lossy(&out.stdout)).unwrap();
    assert_eq!(docs.len(), k8s_objects().len());
    assert!(docs.iter().all(|d| d["metadata"]["namespace"] == "monitoring" || d["kind"] == "Namespace"));
}

// --------------------------------------------------------------- compose

fn compose() -> Value {
    yaml(&deploy().join("docker-compose.yml"))
}

#[test]
fn compose_runs_the_exporter_prometheus_alertmanager_and_grafana() {
    let c = compose();
    let services = c["services"].as_object().expect("services");
    for s in ["fleet-incentives", "prometheus", "alertmanager", "grafana"] {
        assert!(services.contains_key(s), "service {s}");
    }
    let volumes = c["volumes"].as_object().map(|v| v.keys().cloned().collect::<BTreeSet<_>>()).unwrap_or_default();
    for (name, s) in services {
        assert!(s["image"].is_string() || s["build"].is_object(), "{name}: image or build");
        for dep in s["depends_on"].as_array().into_iter().flatten() {
            assert!(services.contains_key(dep.as_str().unwrap()), "{name}: depends on unknown {dep}");
        }
        for v in s["volumes"].as_array().into_iter().flatten() {
            let source = v.as_str().unwrap().split(':').next().unwrap();
            if source.starts_with('.') || source.starts_with('/') {
                let path = deploy().join(source);
                if source.starts_with("../alertmanager") && !path.exists() {
                    println!("notice: {name} mounts {source}, which issue 4 has not written yet");
                    continue;
                }
                assert!(path.exists(), "{name}: bind mount {source} does not exist");
            } else {
                assert!(volumes.contains(source), "{name}: named volume {source} not declared");
            }
        }
    }
    let build = &services["fleet-incentives"]["build"];
    let dockerfile = deploy().join(build["context"].as_str().unwrap()).join(build["dockerfile"].as_str().unwrap());
    assert!(dockerfile.is_file(), "{}", dockerfile.display());
}

#[test]
fn compose_runs_serve_with_known_flags_on_the_scraped_port() {
    let c = compose();
    let e = &c["services"]["fleet-incentives"];
    let args = str_list(&e["command"]);
    assert_eq!(args[0], "serve");
    assert_flags_known("compose command", &flags(args.iter().copied()), SERVE_FLAGS);
    assert_eq!(listen_port(args.iter().copied()), PORT);
    assert!(str_list(&e["ports"]).contains(&format!("{PORT}:{PORT}").as_str()));
    // Prometheus scrapes it by its service name.
    let prom = yaml(&deploy().join("prometheus/prometheus.yml"));
    let job = prom["scrape_configs"].as_array().unwrap().iter().find(|j| j["job_name"] == "fleet-incentives").unwrap();
    assert_eq!(str_list(&job["static_configs"][0]["targets"]), [format!("fleet-incentives:{PORT}")]);
    assert_eq!(job["metrics_path"], "/metrics");
    // --prometheus.url names the compose service.
    let url = args.iter().find_map(|a| a.strip_prefix("--prometheus.url=")).unwrap();
    assert_eq!(url, "http://prometheus:9090");
}

#[test]
fn prometheus_loads_the_alert_rules_and_sends_alerts_to_alertmanager() {
    let prom = yaml(&deploy().join("prometheus/prometheus.yml"));
    let c = compose();
    let rule_files = str_list(&prom["rule_files"]);
    assert_eq!(rule_files, ["/etc/prometheus/alertmanager/rules.yml"]);
    // ... which is the repository's alertmanager/rules.yml in compose.
    let mounts = str_list(&c["services"]["prometheus"]["volumes"]);
    assert!(mounts.iter().any(|m| m.starts_with("../alertmanager:/etc/prometheus/alertmanager")), "{mounts:?}");
    let am = str_list(&prom["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]);
    assert_eq!(am, ["alertmanager:9093"]);
    assert!(
        c["services"]["alertmanager"]["command"].as_array().unwrap().iter().any(|a| a == "--cluster.listen-address=")
    );
}

/// `840h` → hours (Alertmanager's flag takes Go durations; h is what we write).
fn hours(duration: &str) -> u64 {
    duration.strip_suffix('h').and_then(|h| h.parse().ok()).unwrap_or_else(|| panic!("{duration}: write it in hours"))
}

#[test]
fn alertmanager_keeps_a_month_of_silences_for_the_monthly_close() {
    // Acknowledgements are silences; the close on the 1st reads the whole
    // previous month: at least 31 days and the close's delay, i.e. 35 days.
    let c = compose();
    let args = str_list(&c["services"]["alertmanager"]["command"]);
    let retention = args.iter().find_map(|a| a.strip_prefix("--data.retention=")).expect("--data.retention=");
    assert!(hours(retention) >= 35 * 24, "--data.retention={retention}: less than 35 days");
}

#[test]
fn promtool_accepts_the_prometheus_configuration() {
    let promtool = common::require_binary("promtool");
    let dir = tempfile::tempdir().unwrap();
    // The container paths, pointed at the repository (or an empty rule file
    // while alertmanager/rules.yml does not exist).
    let rules = if alert_rules_path().is_file() {
        alert_rules_path()
    } else {
        println!("notice: alertmanager/rules.yml does not exist yet: checked with an empty rule file");
        let p = dir.path().join("rules.yml");
        std::fs::write(&p, "groups: []\n").unwrap();
        p
    };
    let config = read(&deploy().join("prometheus/prometheus.yml"))
        .replace("/etc/prometheus/alertmanager/rules.yml", &rules.display().to_string())
        .replace("/etc/prometheus/targets", &deploy().join("prometheus/targets").display().to_string());
    let path = dir.path().join("prometheus.yml");
    std::fs::write(&path, config).unwrap();
    let out = Command::new(promtool).args(["check", "config"]).arg(&path).output().unwrap();
    assert!(
        out.status.success(),
        "promtool check config:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn grafana_provisioning_points_at_prometheus_and_the_dashboards() {
    let ds = yaml(&deploy().join("grafana/provisioning/datasources/prometheus.yml"));
    let d = &ds["datasources"][0];
    assert_eq!(d["type"], "prometheus");
    assert_eq!(d["url"], "http://prometheus:9090");
    let provider = yaml(&deploy().join("grafana/provisioning/dashboards/fleet-incentives.yml"));
    let path = provider["providers"][0]["options"]["path"].as_str().unwrap();
    let compose = compose();
    let mounts = str_list(&compose["services"]["grafana"]["volumes"]);
    assert!(mounts.contains(&format!("../dashboards:{path}:ro").as_str()), "{mounts:?} vs {path}");
    assert!(mounts.iter().any(|m| m.starts_with("./grafana/provisioning:/etc/grafana/provisioning")));
}

// ------------------------------------------------------------- Dockerfile

#[test]
fn the_dockerfile_builds_in_one_stage_and_runs_serve_as_non_root_in_another() {
    let text = read(&deploy().join("Dockerfile"));
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.starts_with('#')).collect();
    let froms = lines.iter().filter(|l| l.starts_with("FROM ")).count();
    assert!(froms >= 2, "multi-stage");
    let runtime: Vec<&&str> = lines.iter().skip_while(|l| !l.contains(" AS build")).skip(1).collect();
    let runtime_from = runtime.iter().find(|l| l.starts_with("FROM ")).unwrap();
    assert!(runtime_from.contains("slim") || runtime_from.contains("distroless"), "{runtime_from}");
    let user = lines.iter().rev().find_map(|l| l.strip_prefix("USER ")).expect("USER");
    assert!(!user.starts_with("root") && !user.starts_with('0'), "USER {user}");
    assert!(lines.contains(&format!("EXPOSE {PORT}").as_str()));
    assert!(text.contains("cargo build --release --locked"));
    let cmd = lines.iter().find_map(|l| l.strip_prefix("CMD ")).unwrap();
    let cmd: Vec<String> = serde_json::from_str(cmd).unwrap();
    assert_eq!(cmd[0], "serve");
    assert_flags_known("Dockerfile CMD", &flags(cmd.iter().map(String::as_str)), SERVE_FLAGS);
    assert_eq!(listen_port(cmd.iter().map(String::as_str)), PORT);
    // BuildKit's per-Dockerfile ignore file keeps target/ out of the context.
    let ignore = read(&deploy().join("Dockerfile.dockerignore"));
    assert!(ignore.lines().next() == Some("*") || ignore.contains("\n*\n"), "ignore everything by default");
    for needed in ["!Cargo.toml", "!Cargo.lock", "!src/", "!rules/", "!benches/"] {
        assert!(ignore.lines().any(|l| l == needed), "{needed}");
    }
}

// ---------------------------------------------------------------- systemd

fn which(bin: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(bin))
        .find(|p| p.is_file())
}

fn systemd_dir() -> PathBuf {
    deploy().join("systemd")
}

/// The unit with its continuation lines joined.
fn unit_lines(name: &str) -> Vec<String> {
    read(&systemd_dir().join(name)).replace("\\\n", " ").lines().map(str::to_string).collect()
}

fn directive<'a>(lines: &'a [String], key: &str) -> Vec<&'a str> {
    lines.iter().filter_map(|l| l.strip_prefix(&format!("{key}="))).collect()
}

#[test]
fn the_systemd_units_run_known_flags_in_a_sandbox() {
    let service = unit_lines("fleet-incentives.service");
    let exec = directive(&service, "ExecStart")[0];
    assert!(exec.starts_with("/usr/local/bin/fleet-incentives serve "), "{exec}");
    assert_flags_known("fleet-incentives.service", &flags([exec]), SERVE_FLAGS);
    assert_eq!(listen_port([exec]), PORT);
    for (key, value) in [
        ("DynamicUser", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("NoNewPrivileges", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("CapabilityBoundingSet", ""),
    ] {
        assert_eq!(directive(&service, key), [value], "fleet-incentives.service {key}");
    }
    let close = unit_lines("fleet-incentives-close.service");
    let exec = directive(&close, "ExecStart")[0];
    assert!(exec.contains("/usr/local/bin/fleet-incentives close"), "{exec}");
    assert_flags_known("fleet-incentives-close.service", &flags([exec]), CLOSE_FLAGS);
    assert_eq!(directive(&close, "DynamicUser"), ["yes"]);
    let timer = unit_lines("fleet-incentives-close.timer");
    assert_eq!(directive(&timer, "OnCalendar"), ["*-*-01 00:30:00 UTC"]);
}

/// The units in a temporary directory, ExecStart pointed at the binary
/// cargo built (verify checks that the command exists).
fn units_for_verify() -> (tempfile::TempDir, Vec<PathBuf>) {
    let dir = tempfile::tempdir().unwrap();
    let mut out = vec![];
    for e in std::fs::read_dir(systemd_dir()).unwrap() {
        let p = e.unwrap().path();
        let text = read(&p).replace("/usr/local/bin/fleet-incentives", env!("CARGO_BIN_EXE_fleet-incentives"));
        let target = dir.path().join(p.file_name().unwrap());
        std::fs::write(&target, text).unwrap();
        out.push(target);
    }
    out.sort();
    (dir, out)
}

#[test]
fn systemd_analyze_verifies_the_units_without_a_warning() {
    let Some(analyze) = which("systemd-analyze") else {
        println!("notice: systemd-analyze is not installed: the systemd units are not verified");
        return;
    };
    let (dir, units) = units_for_verify();
    let out = Command::new(&analyze).arg("verify").args(&units).current_dir(dir.path()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Unknown keys are only warnings (exit 0): any line about our units fails too.
    let ours: Vec<&str> = stderr.lines().filter(|l| l.contains("fleet-incentives")).collect();
    assert!(out.status.success() && ours.is_empty(), "systemd-analyze verify ({}):\n{stderr}", out.status);
}

#[test]
fn systemd_analyze_rates_the_services_exposure_at_most_2_of_10() {
    let Some(analyze) = which("systemd-analyze") else {
        println!("notice: systemd-analyze is not installed: the sandbox is not rated");
        return;
    };
    let (dir, units) = units_for_verify();
    for unit in units.iter().filter(|u| u.extension().is_some_and(|e| e == "service")) {
        let name = format!("./{}", unit.file_name().unwrap().to_string_lossy());
        // --threshold is in tenths: 20 = exposure 2.0 ("OK").
        let out = Command::new(&analyze)
            .args(["security", "--offline=yes", "--threshold=20", &name])
            .current_dir(dir.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let level = stdout.lines().find(|l| l.contains("Overall exposure level")).unwrap_or("(no rating)");
        println!("{level}");
        assert!(out.status.success(), "{name}: {level}\n{}", String::from_utf8_lossy(&out.stderr));
    }
}

// ------------------------------------------------- the binary's own --help

/// `fleet-incentives COMMAND --help`, or `None` (with a notice) while the
/// command does not exist in this build.
fn help(command: &str) -> Option<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_fleet-incentives")).args([command, "--help"]).output().unwrap();
    if out.status.success() {
        return Some(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unrecognized subcommand"), "`{command} --help` failed: {stderr}");
    println!("notice: `fleet-incentives {command}` does not exist in this build yet: its flags are not checked");
    None
}

#[test]
fn serve_and_close_accept_every_flag_the_deployment_uses() {
    for (command, known) in [("serve", SERVE_FLAGS), ("close", CLOSE_FLAGS)] {
        if let Some(text) = help(command) {
            for flag in known.iter() {
                assert!(
                    text.split(|c: char| c.is_whitespace() || c == ',' || c == '=' || c == '[' || c == '<')
                        .any(|w| w == *flag),
                    "`{command} --help` does not list {flag}:\n{text}"
                );
            }
        }
    }
}
