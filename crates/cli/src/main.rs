//! `custos` — the command line of Custos.
//!
//! * `custos assess` applies a safeguard profile to one request (safeguards.md, *Command-line
//!   contract*).
//! * `custos policy check | diff | prove` — the policy workbench (`policy_cmd`, over
//!   custos-policy).
//! * `custos init | serve | authority | user` set up and run a node (`node_cmd`).
//! * `custos submit | withdraw | answer | log verify | log check-opening` talk to a node over HTTP
//!   (`client`);
//!   `custos extension request` asks, as a requesting authority, to move a deadline
//!   (`extension`).
//! * `custos send-order` (as a requesting authority) and `custos request-deletion` (as a
//!   reviewer): the order that must follow an emergency, and a deletion asked after it was
//!   missed (`order`).
//! * `custos audit | log open` check a node's own database (`audit`); `custos migrate` moves it
//!   from SQLite to PostgreSQL (`migrate`).
//! * `custos witness init | serve` run a C2SP tlog-witness (`witness_cmd`); `custos witness add`
//!   names one for a node to ask for cosignatures (`witness_add`).
//!
//! Output goes through `out`, so a reader that closes the pipe early ends the output quietly.
//!
//! Exit status: 0 on success (for `assess`: an assessment was produced, whatever its outcome);
//! 2 when the input or command line is invalid, or a node refused it, or a verification failed;
//! 1 when Custos itself cannot work (unreadable configuration, unreachable server); 3 when
//! `custos audit` finds the database no longer matches what the node signed.

mod assess;
mod audit;
mod client;
mod conditions;
mod evidence;
mod extension;
mod migrate;
mod node_cmd;
mod order;
mod out;
mod policy_cmd;
mod progress;
mod record;
mod report;
mod seal;
mod staff;
mod text;
mod witness_add;
mod witness_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use jiff::Timestamp;

#[derive(Parser)]
#[command(
    name = "custos",
    version,
    about = "Receive, vet and audit cross-border requests for electronic evidence, with the safeguards enforced by code.",
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Assess one request against a safeguard profile and print the recommendation.
    ///
    /// Exit status 0 whenever an assessment is produced, whatever its outcome; 2 if the request
    /// is invalid (the error on stderr names the field); 1 if the profile or jurisdiction file
    /// cannot be used.
    Assess(AssessArgs),

    /// The policy workbench: check a profile, replay it over past requests, prove its
    /// safeguards for every possible request.
    #[command(subcommand)]
    Policy(policy_cmd::PolicyCommand),

    /// Create a node: configuration, Ed25519 signing key (mode 0600) and SQLite database. Prints
    /// the node's verifier key (C2SP signed-note form) on a line of its own.
    Init {
        /// The node directory.
        #[arg(long, default_value = "custos-node")]
        dir: PathBuf,
        /// The log's origin and key name (e.g. `evidence.example.org/log`).
        #[arg(long, default_value = "localhost/custos")]
        origin: String,
        /// Safeguard profile: `rights-first`, `convention`, or a .cedar file in the directory.
        #[arg(long, default_value = "rights-first")]
        profile: String,
        /// The database: omitted, an SQLite file in the directory; or the URL of an existing,
        /// empty PostgreSQL database (`postgresql://user@host:5432/name`), which several
        /// `custos serve` processes can share.
        #[arg(long)]
        database: Option<String>,
    },

    /// Run the node's HTTP service.
    Serve {
        /// The node directory.
        #[arg(long, default_value = "custos-node")]
        dir: PathBuf,
        /// Address to listen on (default: the configuration's, 127.0.0.1:8480).
        #[arg(long, value_name = "ADDR:PORT")]
        listen: Option<String>,
    },

    /// The directory of requesting authorities and their keys.
    #[command(subcommand)]
    Authority(AuthorityCommand),

    /// The node's users (reviewers, supervisors, auditors, admins).
    #[command(subcommand)]
    User(UserCommand),

    /// Sign a request with an authority's key and submit it to a node; prints the node's reply
    /// (custos.reply/v1: case, request id, status).
    Submit {
        /// The node, e.g. http://127.0.0.1:8480.
        #[arg(long)]
        server: String,
        /// The authority's private JWK (from `custos authority keygen`).
        #[arg(long, value_name = "KEY.jwk")]
        key: PathBuf,
        /// Set `submitted_at` to now before signing.
        #[arg(long)]
        stamp: bool,
        /// The request (custos.request/v1 JSON).
        #[arg(value_name = "REQUEST.json")]
        request: PathBuf,
    },

    /// As a requesting authority: withdraw one of your requests before it is executed, signed
    /// with your key and with a reason; prints the node's reply (status `withdrawn`).
    Withdraw {
        /// The node, e.g. http://127.0.0.1:8480.
        #[arg(long)]
        server: String,
        /// The authority's private JWK (from `custos authority keygen`).
        #[arg(long, value_name = "KEY.jwk")]
        key: PathBuf,
        /// The node's case number (from the reply to `custos submit`).
        #[arg(long)]
        case: i64,
        /// The request's own id (`id` of the request document).
        #[arg(long)]
        request_id: String,
        /// Why it is withdrawn.
        #[arg(long)]
        reason: String,
    },

    /// As a requesting authority: send the order that must follow an emergency executed
    /// without the prior authorization its justification waived (the reply's `order` says
    /// which kinds and by when), signed with your key; prints the node's reply.
    SendOrder {
        /// The node, e.g. http://127.0.0.1:8480.
        #[arg(long)]
        server: String,
        /// The authority's private JWK (from `custos authority keygen`).
        #[arg(long, value_name = "KEY.jwk")]
        key: PathBuf,
        /// The node's case number.
        #[arg(long)]
        case: i64,
        /// The request's own id (`id` of the request document).
        #[arg(long)]
        request_id: String,
        /// The order's kind: `judicial`, `prosecutorial`, `independent` (as the reply's
        /// `order.required` asks).
        #[arg(long)]
        kind: String,
        /// The order's reference (file number).
        #[arg(long)]
        reference: String,
        /// Who issued it.
        #[arg(long)]
        issued_by: Option<String>,
        /// When it was issued (RFC 3339).
        #[arg(long)]
        issued_at: Option<jiff::Timestamp>,
    },

    /// As a reviewer, after the order that had to follow an emergency was missed: ask the
    /// requester to delete what was handed over, with a message it reads in its reply, using a
    /// user's API token. Prints the case as the node now records it (JSON).
    RequestDeletion {
        /// The node, e.g. http://127.0.0.1:8480.
        #[arg(long)]
        server: String,
        /// A file holding the reviewer's API token (`custos user add` printed it).
        #[arg(long, value_name = "FILE")]
        token_file: PathBuf,
        /// The node's case number.
        #[arg(long)]
        case: i64,
        /// What the requester is asked to delete, and why.
        #[arg(long)]
        message: String,
    },

    /// As a requesting authority: answer the node's consultation of one of your requests,
    /// signed with your key; prints the node's reply with the thread.
    Answer {
        /// The node, e.g. http://127.0.0.1:8480.
        #[arg(long)]
        server: String,
        /// The authority's private JWK (from `custos authority keygen`).
        #[arg(long, value_name = "KEY.jwk")]
        key: PathBuf,
        /// The node's case number.
        #[arg(long)]
        case: i64,
        /// The request's own id (`id` of the request document).
        #[arg(long)]
        request_id: String,
        /// The answer.
        #[arg(long)]
        message: String,
    },

    /// Confirm an emergency request, as a confirmation key of the requesting authority (another
    /// person there, e.g. its duty supervisor; registered with `authority add --confirm-jwk`).
    /// An emergency is not executed until confirmed. Prints the node's answer.
    Confirm {
        /// The node, e.g. http://127.0.0.1:8480.
        #[arg(long)]
        server: String,
        /// The confirmation key's private JWK.
        #[arg(long, value_name = "KEY.jwk")]
        key: PathBuf,
        /// The case number the node gave the request.
        #[arg(long)]
        case: i64,
        /// The request's own id.
        #[arg(long)]
        request_id: String,
        /// Hex SHA-256 of the request's JWS payload bytes.
        #[arg(long, conflicts_with = "payload", required_unless_present = "payload")]
        sha256: Option<String>,
        /// The request's payload, exactly the bytes signed (its digest is computed).
        #[arg(long, value_name = "REQUEST.json")]
        payload: Option<PathBuf>,
    },

    /// Deny an emergency request, as a confirmation key of the requesting authority: it says the
    /// authority did not send it. The case is refused (`emergency-verification-failed`).
    /// Prints the node's answer.
    Deny {
        /// The node, e.g. http://127.0.0.1:8480.
        #[arg(long)]
        server: String,
        /// The confirmation key's private JWK.
        #[arg(long, value_name = "KEY.jwk")]
        key: PathBuf,
        /// The case number the node gave the request.
        #[arg(long)]
        case: i64,
        /// The request's own id.
        #[arg(long)]
        request_id: String,
        /// Hex SHA-256 of the request's JWS payload bytes.
        #[arg(long)]
        sha256: String,
        /// Why it is denied.
        #[arg(long)]
        reason: String,
    },

    /// Verify an emergency by call-back (reviewers record, supervisors confirm).
    #[command(subcommand)]
    Callback(CallbackCommand),

    /// The tamper-evident log: verify a node's log, open an event, check an opening.
    #[command(subcommand)]
    Log(LogCommand),

    /// A transparency report of a period, on the node: published with differential privacy
    /// once (logged as `report.published`, within the budget of `[transparency]`) and read as
    /// published ever after; `--exact` prints the exact table (spends nothing, never public).
    /// `custos report verify` checks what an oversight body is handed.
    Report(ReportArgs),

    /// Recompute every commitment, the whole tree and every signed checkpoint from the
    /// database; report any event that was changed, removed or reordered (exit 3).
    Audit {
        /// The node directory (or a copy of it).
        #[arg(long, default_value = "custos-node")]
        dir: PathBuf,
        /// The node's verifier key (name+id+key, or a file holding it), as the node published
        /// it. Default: the verifier file the node directory keeps (`node.vkey`); an outside
        /// auditor should pass the key it got from elsewhere.
        #[arg(long)]
        vkey: Option<String>,
        /// Print one JSON report.
        #[arg(long)]
        json: bool,
    },

    /// Move a node from its SQLite file to an empty PostgreSQL database: copy every table,
    /// verify the copy against the node's signatures (tree root, every commitment, every event
    /// row, the whole audit), then switch `custos.toml` to it. Stop `custos serve` first.
    ///
    /// Exit status 0 when switched; 2 when refused (already on PostgreSQL, a target that holds
    /// anything, the node running); 1 when a database cannot be used; 3 when the source or the
    /// copy does not verify. The configuration is unchanged unless it exits 0.
    Migrate {
        /// The node directory.
        #[arg(long, default_value = "custos-node")]
        dir: PathBuf,
        /// The empty PostgreSQL database (`postgresql://user@host:5432/name`), which must exist.
        #[arg(long, value_name = "URL")]
        to: String,
    },

    /// Evidence on the node: seal files for an executed request and log them; show their chain
    /// of custody.
    #[command(subcommand)]
    Evidence(EvidenceCommand),

    /// As a requesting authority: download a case's evidence packages with signed requests and
    /// check each one against the node's signed log.
    Fetch {
        #[arg(long)]
        server: String,
        /// The authority's private JWK.
        #[arg(long, value_name = "KEY.jwk")]
        key: PathBuf,
        /// The node's verifier key (C2SP), or a file holding it.
        #[arg(long)]
        vkey: String,
        /// The node's case number.
        #[arg(long)]
        case: i64,
        /// Where to write the packages.
        #[arg(short, long, value_name = "DIR")]
        out: PathBuf,
    },

    /// As a requesting authority: accept the conditions of an executed case, signed with the
    /// authority's key (or decline them with `--decline REASON`). Reads the case's reply, signs
    /// the SHA-256 of the conditions it shows, and prints them with the node's answer (JSON).
    /// No evidence is released before the conditions are accepted.
    AcceptConditions {
        /// The node, e.g. http://127.0.0.1:8480.
        #[arg(long)]
        server: String,
        /// The authority's private JWK.
        #[arg(long, value_name = "KEY.jwk")]
        key: PathBuf,
        /// The node's case number.
        #[arg(long)]
        case: i64,
        /// Decline the conditions instead, for this reason.
        #[arg(long, value_name = "REASON")]
        decline: Option<String>,
    },

    /// As a requesting authority: ask a node to move a deadline of one of your cases.
    #[command(subcommand)]
    Extension(ExtensionCommand),

    /// As a reviewer, correct an offence's category or maximum penalty, with a reason, using a
    /// user's API token. The node re-assesses on the corrected facts; a correction that lightens
    /// the recommendation waits for a supervisor's second review (API or console). Prints the
    /// case as the node now records it (JSON).
    Reclassify {
        /// The node, e.g. http://127.0.0.1:8480.
        #[arg(long)]
        server: String,
        /// A file holding the reviewer's API token (`custos user add` printed it).
        #[arg(long, value_name = "FILE")]
        token_file: PathBuf,
        /// The node's case number.
        #[arg(long)]
        case: i64,
        /// Which offence: its index in the request's `investigation.offences`, from 0.
        #[arg(long)]
        offence: usize,
        /// The corrected category (e.g. `fraud`, `defamation`).
        #[arg(long)]
        category: Option<String>,
        /// The corrected statutory maximum penalty: years, `life` or `death`.
        #[arg(long)]
        max_penalty: Option<String>,
        /// Why the requester's classification is wrong (at least one full sentence).
        #[arg(long)]
        reason: String,
    },

    /// Seal produced files into an age-encrypted package with a signed manifest.
    Seal(seal::SealArgs),
    /// Decrypt a sealed package, verify its manifest and files, and extract them.
    Unseal(seal::UnsealArgs),

    /// A transparency-log witness (C2SP tlog-witness): `init` and `serve` run one; `add` names
    /// one for a node.
    #[command(subcommand)]
    Witness(witness_cmd::WitnessCommand),
}

#[derive(Subcommand)]
enum ConfirmKeyCommand {
    /// Register a confirmation key for an authority already in the directory. Logged as
    /// `authority.confirmation_key_added`. Prints the key's thumbprint.
    Add {
        #[arg(long, default_value = "custos-node")]
        dir: PathBuf,
        /// The authority: the thumbprint (kid) of its own key. Base64url, so it may start with
        /// `-` (one key in 64 does).
        #[arg(long, value_name = "KID", allow_hyphen_values = true)]
        authority: String,
        /// The confirmation key's public JWK (kty OKP, crv Ed25519).
        #[arg(long, value_name = "FILE")]
        jwk: PathBuf,
    },
}

#[derive(Subcommand)]
enum ContactCommand {
    /// Set or change an authority's call-back contact. Logged as `authority.contact_set`.
    Set {
        #[arg(long, default_value = "custos-node")]
        dir: PathBuf,
        /// The authority: the thumbprint (kid) of its own key.
        #[arg(long, value_name = "KID", allow_hyphen_values = true)]
        authority: String,
        /// Who answers (e.g. the duty office's name).
        #[arg(long)]
        name: String,
        /// The number to call.
        #[arg(long)]
        phone: String,
    },
}

#[derive(Subcommand)]
enum CallbackCommand {
    /// As a reviewer: record a call to the authority's registered contact (who was reached, the
    /// outcome). A supervisor who did not record it must confirm it. Prints the emergency's
    /// verification as it now stands (JSON).
    Record {
        /// The node, e.g. http://127.0.0.1:8480.
        #[arg(long)]
        server: String,
        /// A file holding the reviewer's API token.
        #[arg(long, value_name = "FILE")]
        token_file: PathBuf,
        /// The node's case number.
        #[arg(long)]
        case: i64,
        /// Who was reached (name and function).
        #[arg(long)]
        reached: String,
        /// confirmed, denied or unreachable.
        #[arg(long)]
        outcome: String,
        /// A note for staff.
        #[arg(long)]
        note: Option<String>,
    },
    /// As a supervisor who did not record it: confirm (or, with --reject, reject) a call-back
    /// record. A confirmed `denied` refuses the case. Prints the verification (JSON).
    Review {
        /// The node, e.g. http://127.0.0.1:8480.
        #[arg(long)]
        server: String,
        /// A file holding the supervisor's API token.
        #[arg(long, value_name = "FILE")]
        token_file: PathBuf,
        /// The node's case number.
        #[arg(long)]
        case: i64,
        /// Reject the record (to be called again) instead of confirming it.
        #[arg(long)]
        reject: bool,
        /// Why.
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand)]
enum AuthorityCommand {
    /// Make a new Ed25519 key pair for an authority: private JWK (mode 0600) and public JWK.
    /// Prints the key's thumbprint (its kid).
    Keygen {
        /// Where to write the private JWK.
        #[arg(short, long, value_name = "KEY.jwk")]
        out: PathBuf,
        /// Where to write the public JWK (default: beside it, .pub.jwk).
        #[arg(long, value_name = "PUB.jwk")]
        public: Option<PathBuf>,
    },
    /// Register an authority's public key. Logged as `authority.added`.
    Add {
        #[arg(long, default_value = "custos-node")]
        dir: PathBuf,
        /// ISO 3166-1 alpha-2 code of its state.
        #[arg(long)]
        state: String,
        /// Its name.
        #[arg(long)]
        name: String,
        /// Its kind, as the request format names authorities.
        #[arg(long, value_parser = authority_kinds())]
        kind: String,
        /// Its public JWK (kty OKP, crv Ed25519).
        #[arg(long, value_name = "FILE")]
        jwk: PathBuf,
        /// Channels it may use (comma-separated).
        #[arg(long, value_delimiter = ',', default_value = "mla", value_parser = node_cmd::channels())]
        channels: Vec<String>,
        /// Its age recipient for sealed evidence.
        #[arg(long, value_name = "age1…")]
        age_recipient: Option<String>,
        /// A confirmation key (public JWK) of another person at the authority, e.g. its duty
        /// supervisor: it may confirm the authority's emergency requests, never sign one.
        /// Repeatable. Logged as `authority.confirmation_key_added`.
        #[arg(long = "confirm-jwk", value_name = "FILE")]
        confirm_jwk: Vec<PathBuf>,
        /// Its call-back contact's name (e.g. its duty office), obtained out of band: reviewers
        /// call it to verify an emergency, never a number from a request. Logged as
        /// `authority.contact_set`. With --contact-phone.
        #[arg(long, requires = "contact_phone")]
        contact_name: Option<String>,
        /// Its call-back contact's phone number. With --contact-name.
        #[arg(long, requires = "contact_name")]
        contact_phone: Option<String>,
    },
    /// The call-back contact of an authority.
    #[command(subcommand)]
    Contact(ContactCommand),
    /// Confirmation keys of an authority.
    #[command(subcommand)]
    ConfirmKey(ConfirmKeyCommand),
    /// List the directory.
    List {
        #[arg(long, default_value = "custos-node")]
        dir: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key. Logged as `authority.revoked`; requests signed with it are refused.
    Revoke {
        #[arg(long, default_value = "custos-node")]
        dir: PathBuf,
        /// Why.
        #[arg(long)]
        reason: String,
        /// The key's thumbprint. Base64url, so it may start with `-` (one key in 64 does).
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
}

#[derive(Subcommand)]
enum EvidenceCommand {
    /// Seal files for an executed request to its authority's registered age recipient, signed by
    /// the node key; stores the package in the node and logs `evidence.sealed`.
    Seal {
        #[arg(long, default_value = "custos-node")]
        dir: PathBuf,
        /// The node's case number.
        #[arg(long)]
        case: i64,
        /// Who produced the data (default: the node's origin).
        #[arg(long)]
        producer: Option<String>,
        /// A target the package covers: its value as in the request's targets (repeatable).
        /// Required, each one of the targets produced, when the case was executed in part;
        /// omitted after an execution in full, the package covers every target.
        #[arg(long = "target", value_name = "VALUE")]
        targets: Vec<String>,
        /// The produced files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// The chain of custody of a case's evidence: every sealing, hand-over and destruction of
    /// each package as the log records it, with the digests, times and actors by role. `case`
    /// writes CASE/UCO JSON-LD for forensic tools and labs.
    Custody {
        #[arg(long, default_value = "custos-node")]
        dir: PathBuf,
        /// The node's case number.
        #[arg(long)]
        case: i64,
        /// `text` (default), `json` (the chain as plain JSON) or `case` (CASE 1.x JSON-LD).
        #[arg(long, value_enum, default_value = "text")]
        format: evidence::CustodyFormat,
    },
}

#[derive(Subcommand)]
enum ExtensionCommand {
    /// Ask, signed with the authority's key, to extend the end of confidentiality of a case
    /// (or, with `--kind preservation`, to renew its preservation hold) to `--until`, with
    /// reasons. Logged as `extension.requested`; a reviewer of the node grants or
    /// refuses it (API `POST /v1/requests/{case}/extensions/{extension}/decision`, or the
    /// console). Prints the node's answer (JSON).
    Request {
        /// The node, e.g. http://127.0.0.1:8480.
        #[arg(long)]
        server: String,
        /// The authority's private JWK.
        #[arg(long, value_name = "KEY.jwk")]
        key: PathBuf,
        /// The node's case number.
        #[arg(long)]
        case: i64,
        /// The deadline to move: `confidentiality`, or `preservation` (renew a hold).
        #[arg(long, default_value = "confidentiality")]
        kind: String,
        /// The date wanted (RFC 3339, e.g. 2027-03-01T00:00:00Z).
        #[arg(long, value_name = "TIME")]
        until: Timestamp,
        /// Why the deadline must move.
        #[arg(long)]
        reasons: String,
    },
    /// As a reviewer, grant or refuse a requester's extension, with the reason the requester
    /// reads, using a user's API token. The node applies the profile's cap. Prints the
    /// extension as recorded (JSON).
    Decide {
        /// The node, e.g. http://127.0.0.1:8480.
        #[arg(long)]
        server: String,
        /// A file holding the reviewer's API token (`custos user add` printed it).
        #[arg(long, value_name = "FILE")]
        token_file: PathBuf,
        /// The node's case number.
        #[arg(long)]
        case: i64,
        /// The extension's number (`GET /v1/requests/{case}/extensions`).
        #[arg(long)]
        extension: i64,
        /// Grant it (to the date asked, or to `--until` if earlier).
        #[arg(long, conflicts_with = "refuse", required_unless_present = "refuse")]
        grant: bool,
        /// Refuse it.
        #[arg(long)]
        refuse: bool,
        /// For a grant: an earlier date than the one asked (RFC 3339).
        #[arg(long, value_name = "TIME")]
        until: Option<Timestamp>,
        /// Why, in words the requester reads.
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user; prints its API token once.
    Add {
        #[arg(long, default_value = "custos-node")]
        dir: PathBuf,
        #[arg(long)]
        name: String,
        /// reviewer, supervisor, auditor or admin.
        #[arg(long)]
        role: String,
    },
    /// Set a user's password for the reviewer console, read from the first line of standard
    /// input (at least 12 characters). The API token is unaffected.
    Password {
        #[arg(long, default_value = "custos-node")]
        dir: PathBuf,
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand)]
enum LogCommand {
    /// Check a node's checkpoint signature and its consistency with the last checkpoint seen
    /// (kept in a local file); with --full, recompute the root from every tile.
    Verify {
        #[arg(long)]
        server: String,
        /// The node's verifier key (C2SP), or a file holding it.
        #[arg(long)]
        vkey: String,
        /// Where the last seen checkpoint is kept.
        #[arg(long, value_name = "FILE")]
        state: Option<PathBuf>,
        #[arg(long)]
        full: bool,
        #[arg(long)]
        json: bool,
        /// A witness's verifier key (`name+id+base64`, type 0x04), or a file holding it;
        /// repeatable. The checkpoint must carry `--quorum` valid cosignatures of these.
        #[arg(long = "witness", value_name = "VKEY")]
        witnesses: Vec<String>,
        /// Valid cosignatures required (default: one per --witness).
        #[arg(long, value_name = "N", requires = "witnesses")]
        quorum: Option<usize>,
    },
    /// Print an event with its salt (an opening), to publish once secrecy ends.
    Open {
        #[arg(long, default_value = "custos-node")]
        dir: PathBuf,
        /// The event's log index.
        index: u64,
    },
    /// Check an opening against the node's signed checkpoint.
    CheckOpening {
        #[arg(long)]
        server: String,
        #[arg(long)]
        vkey: String,
        /// The opening (from `custos log open`).
        opening: PathBuf,
    },
    /// Check a case's public record (`/transparency/cases/N.json`): the checkpoint's
    /// signature, every inclusion proof, the publication's leaf recomputed from its opening,
    /// and the checkpoint's consistency with the node's current one. Exit 2 if anything fails.
    CheckRecord {
        #[arg(long)]
        server: String,
        /// The node's verifier key (C2SP), or a file holding it.
        #[arg(long)]
        vkey: String,
        /// The record saved from the node; or give --case to fetch it.
        #[arg(required_unless_present = "case", conflicts_with = "case")]
        record: Option<PathBuf>,
        /// The case number whose record to fetch from the node.
        #[arg(long)]
        case: Option<i64>,
    },
}

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct ReportArgs {
    #[command(subcommand)]
    command: Option<ReportCommand>,
    /// The node directory.
    #[arg(long, default_value = "custos-node")]
    dir: PathBuf,
    /// First day, YYYY-MM-DD (inclusive).
    #[arg(long, required = true)]
    from: Option<String>,
    /// Last day, YYYY-MM-DD (inclusive), before today (UTC).
    #[arg(long, required = true)]
    to: Option<String>,
    /// The exact table: spends nothing, logs nothing, `epsilon` null. Never publish it.
    #[arg(long)]
    exact: bool,
    /// How to print it.
    #[arg(long, value_enum, default_value = "json")]
    format: report::Format,
    /// Also write the opening of the period's `report.published` (the event with the exact
    /// table, its salt and log index) to FILE: what an oversight body is handed.
    #[arg(long, value_name = "FILE")]
    opening: Option<PathBuf>,
}

#[derive(Subcommand)]
enum ReportCommand {
    /// Check a report's opening against the node's signed log, and that the report the node
    /// serves for its period is the one logged.
    Verify {
        /// The node, e.g. http://127.0.0.1:8480.
        #[arg(long)]
        server: String,
        /// The node's verifier key (C2SP), or a file holding it.
        #[arg(long)]
        vkey: String,
        /// The opening (from `custos report --opening FILE`).
        opening: PathBuf,
    },
}

#[derive(clap::Args)]
pub struct AssessArgs {
    /// `rights-first` (default), `convention`, or the path of a .cedar profile of your own.
    #[arg(long, default_value = "rights-first", value_name = "NAME|PATH")]
    profile: String,

    /// The time of the assessment, RFC 3339 (e.g. 2026-11-20T12:00:00Z). Default: now.
    #[arg(long, value_name = "TIME")]
    now: Option<Timestamp>,

    /// A TOML file with the receiving jurisdiction's settings; keys left out keep the defaults.
    #[arg(long, value_name = "FILE")]
    jurisdiction: Option<PathBuf>,

    /// `text` for people, `json` for machines (custos.assessment/v1). Default: text on a
    /// terminal, json otherwise.
    #[arg(long, value_enum)]
    format: Option<Format>,

    /// The request (custos.request/v1 JSON); `-` reads standard input.
    #[arg(value_name = "REQUEST.json")]
    request: PathBuf,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

impl Format {
    /// The format asked for, else text on a terminal and JSON for a program reading the output.
    pub fn chosen(asked: Option<Format>) -> Format {
        use std::io::IsTerminal;
        asked.unwrap_or(if std::io::stdout().is_terminal() {
            Format::Text
        } else {
            Format::Json
        })
    }
}

/// How a command failed, which decides the exit status.
pub enum Failure {
    /// The input (request, command line) is wrong: exit 2.
    Input(String),
    /// Custos or its configuration cannot work: exit 1.
    Setup(anyhow::Error),
    /// An audit found problems: exit 3.
    Findings(String),
    /// Ctrl-C stopped it; its partial output was removed: exit 130, as a shell reports SIGINT.
    Interrupted(String),
}

/// The authority kinds `authority add` accepts: exactly the request format's, so `--help` lists
/// nothing the command would refuse.
fn authority_kinds() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(custos_model::AuthorityKind::ALL.map(|k| k.as_str()))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Assess(args) => assess::run(args),
        Command::Policy(command) => policy_cmd::run(command),
        Command::Init {
            dir,
            origin,
            profile,
            database,
        } => node_cmd::init(&dir, &origin, &profile, database.as_deref()),
        Command::Serve { dir, listen } => node_cmd::check_dir(&dir)
            .map_err(Failure::Setup)
            .and_then(|()| node_cmd::serve(&dir, listen)),
        Command::Authority(AuthorityCommand::Keygen { out, public }) => {
            node_cmd::keygen(&out, public)
        }
        Command::Authority(AuthorityCommand::Add {
            dir,
            state,
            name,
            kind,
            jwk,
            channels,
            age_recipient,
            confirm_jwk,
            contact_name,
            contact_phone,
        }) => node_cmd::authority_add(node_cmd::AddArgs {
            dir,
            state,
            name,
            kind,
            jwk,
            channels,
            age_recipient,
            confirm_jwks: confirm_jwk,
            contact_name,
            contact_phone,
        }),
        Command::Authority(AuthorityCommand::Contact(ContactCommand::Set {
            dir,
            authority,
            name,
            phone,
        })) => node_cmd::contact_set(&dir, &authority, &name, &phone),
        Command::Authority(AuthorityCommand::ConfirmKey(ConfirmKeyCommand::Add {
            dir,
            authority,
            jwk,
        })) => node_cmd::confirm_key_add(&dir, &authority, &jwk),
        Command::Authority(AuthorityCommand::List { dir, json }) => {
            node_cmd::authority_list(&dir, json)
        }
        Command::Authority(AuthorityCommand::Revoke { dir, reason, kid }) => {
            node_cmd::authority_revoke(&dir, &kid, &reason)
        }
        Command::User(UserCommand::Add { dir, name, role }) => {
            node_cmd::user_add(&dir, &name, &role)
        }
        Command::User(UserCommand::Password { dir, name }) => node_cmd::user_password(&dir, &name),
        Command::Submit {
            server,
            key,
            stamp,
            request,
        } => client::submit(&server, &key, &request, stamp),
        Command::Withdraw {
            server,
            key,
            case,
            request_id,
            reason,
        } => client::withdraw(&server, &key, case, &request_id, &reason),
        Command::SendOrder {
            server,
            key,
            case,
            request_id,
            kind,
            reference,
            issued_by,
            issued_at,
        } => order::send_order(&order::OrderArgs {
            server: &server,
            key: &key,
            case,
            request_id: &request_id,
            kind: &kind,
            reference: &reference,
            issued_by: issued_by.as_deref(),
            issued_at,
        }),
        Command::RequestDeletion {
            server,
            token_file,
            case,
            message,
        } => order::request_deletion(&server, &token_file, case, &message),
        Command::Answer {
            server,
            key,
            case,
            request_id,
            message,
        } => client::answer(&server, &key, case, &request_id, &message),
        Command::Confirm {
            server,
            key,
            case,
            request_id,
            sha256,
            payload,
        } => client::confirm(client::ConfirmArgs {
            server: &server,
            key: &key,
            case,
            request_id: &request_id,
            sha256: sha256.as_deref(),
            payload: payload.as_deref(),
        }),
        Command::Deny {
            server,
            key,
            case,
            request_id,
            sha256,
            reason,
        } => client::deny(&server, &key, case, &request_id, &sha256, &reason),
        Command::Callback(CallbackCommand::Record {
            server,
            token_file,
            case,
            reached,
            outcome,
            note,
        }) => staff::record_callback(
            &server,
            &token_file,
            case,
            &reached,
            &outcome,
            note.as_deref(),
        ),
        Command::Callback(CallbackCommand::Review {
            server,
            token_file,
            case,
            reject,
            reason,
        }) => staff::review_callback(&server, &token_file, case, !reject, &reason),
        Command::Log(LogCommand::Verify {
            server,
            vkey,
            state,
            full,
            json,
            witnesses,
            quorum,
        }) => client::log_verify(
            &server,
            &vkey,
            state,
            full,
            json,
            &client::Witnessed { witnesses, quorum },
        ),
        Command::Log(LogCommand::Open { dir, index }) => audit::log_open(&dir, index),
        Command::Log(LogCommand::CheckOpening {
            server,
            vkey,
            opening,
        }) => client::check_opening(&server, &vkey, &opening),
        Command::Report(ReportArgs {
            command:
                Some(ReportCommand::Verify {
                    server,
                    vkey,
                    opening,
                }),
            ..
        }) => report::verify(&server, &vkey, &opening),
        Command::Report(a) => report::run(
            &a.dir,
            a.from.as_deref().unwrap_or_default(),
            a.to.as_deref().unwrap_or_default(),
            a.exact,
            a.format,
            a.opening.as_deref(),
        ),
        Command::Log(LogCommand::CheckRecord {
            server,
            vkey,
            record,
            case,
        }) => match (record, case) {
            (Some(path), _) => {
                record::check_record(&server, &vkey, record::RecordSource::File(&path))
            }
            (None, Some(case)) => {
                record::check_record(&server, &vkey, record::RecordSource::Case(case))
            }
            (None, None) => Err(Failure::Input(
                "check-record: give the record's file, or --case N to fetch it".into(),
            )),
        },
        Command::Audit { dir, vkey, json } => audit::audit(&dir, vkey.as_deref(), json),
        Command::Migrate { dir, to } => migrate::migrate(&dir, &to),
        Command::Evidence(EvidenceCommand::Seal {
            dir,
            case,
            producer,
            targets,
            files,
        }) => evidence::seal(&dir, case, producer, &targets, &files),
        Command::Evidence(EvidenceCommand::Custody { dir, case, format }) => {
            evidence::custody(&dir, case, format)
        }
        Command::Fetch {
            server,
            key,
            vkey,
            case,
            out,
        } => evidence::fetch(&server, &key, &vkey, case, &out),
        Command::AcceptConditions {
            server,
            key,
            case,
            decline,
        } => conditions::answer(&server, &key, case, decline.as_deref()),
        Command::Extension(ExtensionCommand::Request {
            server,
            key,
            case,
            kind,
            until,
            reasons,
        }) => extension::request(&server, &key, case, &kind, until, &reasons),
        Command::Extension(ExtensionCommand::Decide {
            server,
            token_file,
            case,
            extension,
            grant,
            refuse: _,
            until,
            reason,
        }) => staff::decide_extension(&server, &token_file, case, extension, grant, until, &reason),
        Command::Reclassify {
            server,
            token_file,
            case,
            offence,
            category,
            max_penalty,
            reason,
        } => staff::reclassify(
            &server,
            &token_file,
            case,
            offence,
            category.as_deref(),
            max_penalty.as_deref(),
            &reason,
        ),
        Command::Seal(args) => seal::seal(args),
        Command::Unseal(args) => seal::unseal(args),
        Command::Witness(command) => witness_cmd::run(command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Input(message)) => {
            out::errln!("{message}");
            ExitCode::from(2)
        }
        Err(Failure::Setup(err)) => {
            out::errln!("error: {err:#}");
            ExitCode::from(1)
        }
        Err(Failure::Findings(message)) => {
            out::errln!("{message}");
            ExitCode::from(3)
        }
        Err(Failure::Interrupted(message)) => {
            out::errln!("{message}");
            ExitCode::from(130)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// `custos authority add --help` lists the kinds and channels the command takes, and no
    /// other: each listed value is accepted, a word it used to suggest is refused.
    #[test]
    fn authority_add_help_lists_only_what_it_accepts() {
        let mut cmd = Cli::command();
        let add = cmd
            .find_subcommand_mut("authority")
            .and_then(|a| a.find_subcommand_mut("add"))
            .expect("authority add");
        let help = add.render_long_help().to_string();
        for k in custos_model::AuthorityKind::ALL {
            assert!(help.contains(k.as_str()), "{help}");
        }
        for wrong in ["judicial", "prosecutorial"] {
            assert!(!help.contains(wrong), "{wrong} in {help}");
        }
        let base = [
            "custos",
            "authority",
            "add",
            "--state",
            "XA",
            "--name",
            "X",
            "--jwk",
            "k",
        ];
        for k in custos_model::AuthorityKind::ALL {
            let args = base.iter().copied().chain(["--kind", k.as_str()]);
            assert!(Cli::try_parse_from(args).is_ok(), "{k:?}");
        }
        let judicial = base.iter().copied().chain(["--kind", "judicial"]);
        assert!(Cli::try_parse_from(judicial).is_err());
        let pigeon = base
            .iter()
            .copied()
            .chain(["--kind", "police", "--channels", "mla,pigeon"]);
        assert!(Cli::try_parse_from(pigeon).is_err());
    }
}
