//! The figures a benchmark run hands to `scripts/perf-record.sh`: one JSON
//! object per run, written to `$FLEET_BENCH_RECORD` when it is set (the
//! script then renders README's performance table from them).

use serde_json::{Map, Value, json};

pub struct Record {
    fields: Map<String, Value>,
}

impl Record {
    pub fn new(bench: &str) -> Record {
        let mut fields = Map::new();
        fields.insert("bench".into(), json!(bench));
        Record { fields }
    }

    pub fn set(&mut self, key: &str, value: impl Into<Value>) {
        self.fields.insert(key.to_string(), value.into());
    }

    /// Write the record where `FLEET_BENCH_RECORD` says; nothing without it.
    pub fn save(self) {
        let Some(path) = std::env::var_os("FLEET_BENCH_RECORD") else { return };
        let path = std::path::PathBuf::from(path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        let text = serde_json::to_string_pretty(&Value::Object(self.fields)).unwrap();
        std::fs::write(&path, text + "\n").unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        println!("figures written to {}", path.display());
    }
}
