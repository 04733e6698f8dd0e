//! The node's configuration file (`custos.toml`), written by `custos init`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Name of the configuration file inside a node directory.
pub const CONFIG_FILE: &str = "custos.toml";

/// Everything a node reads at start. Paths are relative to the node directory.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The log's origin line and key name, e.g. `custos.example.org/log`.
    pub origin: String,
    /// Address to listen on.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// The database: an SQLite file (relative to the node directory), or a PostgreSQL URL
    /// (`postgresql://user@host:5432/name`) for a node served by several processes.
    #[serde(default = "default_database")]
    pub database: String,
    /// The node's Ed25519 signing key (C2SP private key string), mode 0600.
    #[serde(default = "default_key")]
    pub key: PathBuf,
    /// Safeguard profile: `rights-first`, `convention`, or a path to a `.cedar` file.
    #[serde(default = "default_profile")]
    pub profile: String,
    /// Receiving jurisdiction (TOML); the built-in default when absent.
    #[serde(default)]
    pub jurisdiction: Option<PathBuf>,
    /// Intake limits.
    #[serde(default)]
    pub intake: IntakeConfig,
    /// Lifecycle settings.
    #[serde(default)]
    pub lifecycle: LifecycleConfig,
    /// Limits of the HTTP listener.
    #[serde(default)]
    pub http: HttpConfig,
    /// Transparency reports: privacy loss per report and budget.
    #[serde(default)]
    pub transparency: TransparencyConfig,
    /// Cosignatures a checkpoint needs before `/log/checkpoint` serves it (C2SP
    /// tlog-cosignature); absent: every witness's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub witness_quorum: Option<usize>,
    /// The witnesses asked to cosign the node's checkpoints (`[[witness]]`, C2SP tlog-witness).
    #[serde(default, rename = "witness", skip_serializing_if = "Vec::is_empty")]
    pub witnesses: Vec<WitnessConfig>,
    /// Notifications to staff (`[notifications]`): what waits for them, through a command
    /// and/or a webhook (`crate::notify`).
    #[serde(default, skip_serializing_if = "NotificationsConfig::is_off")]
    pub notifications: NotificationsConfig,
    /// Files staff attach to cases (`[attachments]`).
    #[serde(default, skip_serializing_if = "AttachmentsConfig::is_default")]
    pub attachments: AttachmentsConfig,
    /// Reply templates by ground (`[templates]`, a finding's code = the text a reviewer starts
    /// a refusal or a request for information from); they replace the built-in ones
    /// (`crate::templates`) code by code.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub templates: std::collections::BTreeMap<String, String>,
}

/// Files staff attach to cases (the order, correspondence).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachmentsConfig {
    /// Largest file a reviewer may attach, in bytes (default 25 MiB). A download is read whole
    /// to check its digest before it is served, so this bounds memory too.
    #[serde(default = "default_attachment_bytes")]
    pub max_bytes: u64,
}

fn default_attachment_bytes() -> u64 {
    25 * 1024 * 1024
}

impl Default for AttachmentsConfig {
    fn default() -> Self {
        AttachmentsConfig {
            max_bytes: default_attachment_bytes(),
        }
    }
}

impl AttachmentsConfig {
    fn is_default(&self) -> bool {
        *self == AttachmentsConfig::default()
    }
}

/// Limits on what intake accepts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntakeConfig {
    /// Largest accepted body, in bytes.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// A request whose `submitted_at` is older than this many seconds is refused as a replay.
    #[serde(default = "default_max_age")]
    pub max_age_seconds: u64,
    /// A request whose `submitted_at` is further in the future than this is refused.
    #[serde(default = "default_max_skew")]
    pub max_future_seconds: u64,
}

/// Settings of the lifecycle and scheduler.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifecycleConfig {
    /// Days a preservation hold lasts, and each renewal adds (UNCC art. 42 asks at least 60).
    #[serde(default = "default_hold_days")]
    pub preservation_days: u32,
    /// Days before a preservation hold lapses that the requester is warned
    /// (`preservation.lapse_warned`, shown in its reply); 0: never. An operator default.
    #[serde(default = "default_lapse_warning")]
    pub lapse_warning_days: u32,
    /// How often the scheduler looks for due items, in seconds.
    #[serde(default = "default_tick")]
    pub scheduler_interval_seconds: u64,
    /// A command run to deliver a notice to the person concerned (`sh -c`, in the node
    /// directory). It reads the notice as JSON (`custos.notice/v1`, with its plain text in
    /// `text`) on its standard input, and finds `CUSTOS_CASE`, `CUSTOS_REQUEST_ID`,
    /// `CUSTOS_NOTICE_DUE_AT` and `CUSTOS_NOTICE_ATTEMPT` in its environment. Exit 0 = sent;
    /// anything else (or no exit within 60 s) is a failure, logged and retried after 1 min,
    /// 5 min, 30 min, 2 h, then every 6 h. When absent, due notices are listed for people to
    /// send (`GET /v1/notices`, `GET /v1/requests/{case}/notice`), and not marked sent.
    #[serde(default)]
    pub notice_command: Option<String>,
    /// Days the node keeps a sealed package after it was first handed over; then the package is
    /// destroyed and `evidence.destroyed` logged. Absent: kept until an operator decides.
    #[serde(default = "default_evidence_retention")]
    pub evidence_retention_days: Option<u32>,
    /// Largest sealed package a reviewer may upload (`POST /v1/requests/{case}/evidence`), in
    /// bytes. Uploads stream to disk, so this bounds disk use, not memory.
    #[serde(default = "default_evidence_upload")]
    pub evidence_max_upload_bytes: u64,
    /// Hours within which the order must follow an emergency executed without the prior
    /// authorization its justification waived, counted from the recording of the execution
    /// (operator default 48, on the model of EU Reg. 2023/1543 art. 4(5)'s ex-post validation,
    /// which the project's research has not confirmed).
    #[serde(default = "default_order_due_hours")]
    pub order_due_hours: u32,
}

/// Limits of the HTTP listener (`custos serve`): stalled and idle connections are closed, and
/// at the cap the oldest connections that have not sent a complete request are shed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Seconds a client has to send a complete request head, from connecting (or from the
    /// previous response on a kept-alive connection).
    #[serde(default = "default_header_timeout")]
    pub header_read_timeout_seconds: u64,
    /// Seconds a kept-alive connection may stay idle (effectively at most the header timeout).
    #[serde(default = "default_keep_alive")]
    pub keep_alive_timeout_seconds: u64,
    /// Most connections open at once; lowered to fit the process's file descriptor limit.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
}

fn default_lapse_warning() -> u32 {
    14
}
fn default_listen() -> String {
    "127.0.0.1:8480".into()
}
fn default_database() -> String {
    "custos.db".into()
}
fn default_key() -> PathBuf {
    "node.key".into()
}
fn default_order_due_hours() -> u32 {
    48
}
fn default_profile() -> String {
    "rights-first".into()
}
fn default_max_body() -> usize {
    1024 * 1024
}
fn default_max_age() -> u64 {
    24 * 3600
}
fn default_max_skew() -> u64 {
    300
}
fn default_hold_days() -> u32 {
    90
}
fn default_evidence_retention() -> Option<u32> {
    Some(30)
}
fn default_evidence_upload() -> u64 {
    64 * 1024 * 1024 * 1024
}
fn default_tick() -> u64 {
    30
}
fn default_header_timeout() -> u64 {
    10
}
fn default_keep_alive() -> u64 {
    5
}
fn default_max_connections() -> usize {
    4096
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            header_read_timeout_seconds: default_header_timeout(),
            keep_alive_timeout_seconds: default_keep_alive(),
            max_connections: default_max_connections(),
        }
    }
}

impl Default for IntakeConfig {
    fn default() -> Self {
        IntakeConfig {
            max_body_bytes: default_max_body(),
            max_age_seconds: default_max_age(),
            max_future_seconds: default_max_skew(),
        }
    }
}

impl Default for LifecycleConfig {
    fn default() -> Self {
        LifecycleConfig {
            preservation_days: default_hold_days(),
            lapse_warning_days: default_lapse_warning(),
            scheduler_interval_seconds: default_tick(),
            notice_command: None,
            evidence_retention_days: default_evidence_retention(),
            evidence_max_upload_bytes: default_evidence_upload(),
            order_due_hours: default_order_due_hours(),
        }
    }
}

impl Config {
    /// Where the database is, for `custos_store::Store::open`.
    pub fn database_location(&self, dir: &Path) -> custos_store::Location {
        custos_store::Location::parse(dir, &self.database)
    }

    /// A fresh configuration for a node with log origin `origin`.
    pub fn new(origin: &str) -> Config {
        Config {
            origin: origin.into(),
            listen: default_listen(),
            database: default_database(),
            key: default_key(),
            profile: default_profile(),
            jurisdiction: None,
            intake: IntakeConfig::default(),
            lifecycle: LifecycleConfig::default(),
            http: HttpConfig::default(),
            transparency: TransparencyConfig::default(),
            witness_quorum: None,
            witnesses: Vec::new(),
            attachments: AttachmentsConfig::default(),
            templates: Default::default(),
            notifications: NotificationsConfig::default(),
        }
    }

    /// Reads `DIR/custos.toml`.
    pub fn load(dir: &Path) -> anyhow::Result<Config> {
        let path = dir.join(CONFIG_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            anyhow::anyhow!(
                "cannot read {}: {e}; run `custos init --dir {}` first",
                path.display(),
                dir.display()
            )
        })?;
        let config: Config =
            toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        config
            .check_witnesses()
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        Ok(config)
    }

    /// The TOML text of this configuration.
    pub fn to_toml(&self) -> anyhow::Result<String> {
        Ok(toml::to_string_pretty(self)?)
    }
}

/// Transparency reports (issue 14): the ε each published report spends and the budget of all
/// of them (basic composition: the ε of every report adds up, whatever its period). With the
/// defaults, 40 reports of ε = 1 (ten years of quarters) fit in the staff reserve alone, and
/// the public may publish up to 60 custom ranges, at most `public_per_day` a day.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransparencyConfig {
    /// ε of each new report, split evenly over its breakdowns.
    #[serde(default = "default_report_epsilon")]
    pub epsilon_per_report: f64,
    /// Total ε the node may ever spend on reports; a report beyond it is refused.
    #[serde(default = "default_report_budget")]
    pub budget: f64,
    /// Part of the budget only staff may spend (an auditor's token or higher, or
    /// `custos report` on the node): anonymous callers stop at `budget - staff_reserve`.
    #[serde(default = "default_staff_reserve")]
    pub staff_reserve: f64,
    /// New reports anonymous callers may cause per day (UTC); reading published ones is free.
    #[serde(default = "default_public_per_day")]
    pub public_per_day: u32,
}

fn default_report_epsilon() -> f64 {
    1.0
}
fn default_report_budget() -> f64 {
    100.0
}
fn default_staff_reserve() -> f64 {
    40.0
}
fn default_public_per_day() -> u32 {
    5
}

impl Default for TransparencyConfig {
    fn default() -> TransparencyConfig {
        TransparencyConfig {
            epsilon_per_report: default_report_epsilon(),
            budget: default_report_budget(),
            staff_reserve: default_staff_reserve(),
            public_per_day: default_public_per_day(),
        }
    }
}
// ---- Witnesses (issue 14, part 2): `[[witness]]`, `witness_quorum`, `custos witness add`. ----

/// One witness the node asks to cosign its checkpoints (C2SP tlog-witness).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessConfig {
    /// A name for people (logs, `GET /v1/log/witnesses`); default: the key's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its submission prefix: `add-checkpoint` is posted to `<url>/add-checkpoint`.
    pub url: String,
    /// Its verifier key, `name+id+base64` with key type 0x04 (Ed25519 cosignature/v1).
    pub vkey: String,
}

/// A witness entry that cannot be used, named by its place in the file.
#[derive(Debug, thiserror::Error)]
pub enum WitnessConfigError {
    /// The verifier key does not parse.
    #[error("[[witness]] #{entry} ({url}): vkey is not a cosignature/v1 verifier key: {detail}")]
    BadKey {
        /// 1-based place of the entry.
        entry: usize,
        /// Its URL.
        url: String,
        /// Why.
        detail: String,
    },
    /// The URL is not an http URL. The node's HTTP client has no TLS yet: reach an https
    /// witness through a local TLS-terminating proxy.
    #[error(
        "[[witness]] #{entry}: url {url:?} must start with http:// (this build speaks no TLS to witnesses: put an https witness behind a local proxy)"
    )]
    BadUrl {
        /// 1-based place of the entry.
        entry: usize,
        /// The URL given.
        url: String,
    },
    /// Two entries for one witness.
    #[error("[[witness]] #{entry} ({url}) repeats witness #{first}: same {what}")]
    Duplicate {
        /// 1-based place of the repeat.
        entry: usize,
        /// 1-based place of the first.
        first: usize,
        /// Its URL.
        url: String,
        /// `url` or `vkey`.
        what: &'static str,
    },
    /// A quorum no set of the witnesses can meet, or none at all.
    #[error(
        "witness_quorum = {quorum} with {witnesses} witness(es): it must be between 1 and the number of [[witness]] entries"
    )]
    Quorum {
        /// The quorum asked.
        quorum: usize,
        /// Witnesses configured.
        witnesses: usize,
    },
}

impl Config {
    /// Checks every `[[witness]]` entry and the quorum; returns the witnesses' keys in order.
    pub fn check_witnesses(
        &self,
    ) -> Result<Vec<custos_ledger::cosignature::WitnessVerifierKey>, WitnessConfigError> {
        let mut keys: Vec<custos_ledger::cosignature::WitnessVerifierKey> = Vec::new();
        for (i, w) in self.witnesses.iter().enumerate() {
            let entry = i + 1;
            if !w.url.starts_with("http://") {
                return Err(WitnessConfigError::BadUrl {
                    entry,
                    url: w.url.clone(),
                });
            }
            let key = custos_ledger::cosignature::WitnessVerifierKey::parse(w.vkey.trim())
                .map_err(|e| WitnessConfigError::BadKey {
                    entry,
                    url: w.url.clone(),
                    detail: e.to_string(),
                })?;
            for (j, other) in self.witnesses[..i].iter().enumerate() {
                let what = if other.url.trim_end_matches('/') == w.url.trim_end_matches('/') {
                    "url"
                } else if keys[j] == key {
                    "vkey"
                } else {
                    continue;
                };
                return Err(WitnessConfigError::Duplicate {
                    entry,
                    first: j + 1,
                    url: w.url.clone(),
                    what,
                });
            }
            keys.push(key);
        }
        if let Some(quorum) = self.witness_quorum
            && (quorum == 0 || quorum > self.witnesses.len())
        {
            return Err(WitnessConfigError::Quorum {
                quorum,
                witnesses: self.witnesses.len(),
            });
        }
        Ok(keys)
    }

    /// Cosignatures a served checkpoint needs: `witness_quorum`, or every witness's.
    pub fn quorum(&self) -> usize {
        self.witness_quorum.unwrap_or(self.witnesses.len())
    }
}

/// Adds one `[[witness]]` entry to `DIR/custos.toml`, keeping the file's other settings and
/// comments as they are (toml_edit), after checking the whole configuration as `Config::load`
/// would: a bad key or a repeated witness is refused and the file left untouched. The file is
/// replaced atomically (a temporary file renamed over it).
pub fn add_witness(dir: &Path, witness: &WitnessConfig) -> anyhow::Result<()> {
    let path = dir.join(CONFIG_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        anyhow::anyhow!(
            "cannot read {}: {e}; is {} a node directory (`custos init`)?",
            path.display(),
            dir.display()
        )
    })?;
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let mut entry = toml_edit::Table::new();
    if let Some(name) = &witness.name {
        entry["name"] = toml_edit::value(name.as_str());
    }
    entry["url"] = toml_edit::value(witness.url.as_str());
    entry["vkey"] = toml_edit::value(witness.vkey.trim());
    match doc.get_mut("witness") {
        None => {
            let mut array = toml_edit::ArrayOfTables::new();
            array.push(entry);
            doc.insert("witness", toml_edit::Item::ArrayOfTables(array));
        }
        Some(toml_edit::Item::ArrayOfTables(array)) => array.push(entry),
        Some(_) => anyhow::bail!(
            "{}: `witness` must be an array of tables ([[witness]])",
            path.display()
        ),
    }
    let new_text = doc.to_string();
    let config: Config =
        toml::from_str(&new_text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    config.check_witnesses()?;
    replace_config(dir, &new_text)
}

/// Sets `database` in `DIR/custos.toml` to `setting` (`custos migrate`), keeping the file's
/// other settings and comments as they are; replaced atomically like [`add_witness`].
pub fn set_database(dir: &Path, setting: &str) -> anyhow::Result<()> {
    let path = dir.join(CONFIG_FILE);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    doc["database"] = toml_edit::value(setting);
    let new_text = doc.to_string();
    let config: Config =
        toml::from_str(&new_text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    config
        .check_witnesses()
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    replace_config(dir, &new_text)
}

/// Replaces `DIR/custos.toml` with `text` atomically: a temporary file, fsynced, renamed over
/// it, then the directory fsynced, so a crash leaves the old file or the new one, whole.
fn replace_config(dir: &Path, text: &str) -> anyhow::Result<()> {
    let path = dir.join(CONFIG_FILE);
    let tmp = dir.join(format!("{CONFIG_FILE}.new"));
    std::fs::write(&tmp, text.as_bytes())
        .and_then(|()| std::fs::File::open(&tmp)?.sync_all())
        .and_then(|()| std::fs::rename(&tmp, &path))
        .and_then(|()| std::fs::File::open(dir)?.sync_all())
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    Ok(())
}

/// Notifications to staff (issue 16): a new emergency, a decision or correction waiting for a
/// second reviewer, a supplement, the requester's answer to a consultation, a missed order, a
/// requested extension, a withdrawal. Each carries the occasion, the case number, the log
/// index, the time and the console link; never the request's contents, a target or a person
/// (`custos.notification/v1`, [`crate::notify::Notification`]). Delivered at least once, in
/// log order, by the process that runs the scheduler; a failure is retried with the notices'
/// backoff (1 min, 5 min, 30 min, 2 h, then every 6 h).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationsConfig {
    /// A command (`sh -c`, in the node directory) that reads the notification as JSON on its
    /// standard input and finds `CUSTOS_NOTIFICATION` (the occasion), `CUSTOS_CASE` and
    /// `CUSTOS_LOG_INDEX` in its environment. Exit 0 = delivered; otherwise, or after 60 s, a
    /// failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// An `http://` URL the notification is POSTed to as JSON (10 s timeout; a 2xx answer =
    /// delivered). This build speaks no TLS: for HTTPS use a local relay or the command
    /// (e.g. `curl --data-binary @- https://…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<String>,
    /// The console's address as staff reach it (e.g. `https://custos.example.org`), for the
    /// link in each notification; absent, the link is the path alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_url: Option<String>,
}

impl NotificationsConfig {
    /// Neither a command nor a webhook: nothing is notified.
    pub fn is_off(&self) -> bool {
        self.command.is_none() && self.webhook.is_none()
    }
}
