//! The chain of custody of a case's evidence, and its expression in CASE (the Cyber-investigation
//! Analysis Standard Expression, JSON-LD on the UCO ontology, CASE 1.x / UCO 1.x) for forensic
//! tools and labs.
//!
//! [`CustodyChain::from_events`] gathers the `evidence.sealed`, `evidence.delivered` and
//! `evidence.destroyed` events of one case, per package; the node reads them from its log
//! ([`read`]), a requesting authority from the openings it checked against the signed log
//! (`custos fetch`). [`CustodyChain::to_case`] is a pure function of the chain: the same events
//! give the same graph, identifiers included.
//!
//! What custody needs and nothing more: digests, sizes, times, log indexes, the tool, and the
//! actors by role ("the node", "requesting authority XA"). Never target identifiers, people's
//! names or keys: the export may go to a lab.

use custos_model::EventType;
use jiff::Timestamp;
use serde::Serialize;
use serde_json::{Value, json};

use crate::query::{Queries, StoreError};
use crate::wire::LoggedEvent;

pub use custos_model::PackageDigest;

/// The hash method's name in UCO's HashNameVocab. BLAKE3 is not among its members; the
/// vocabulary is open (a plain string, reported by the shapes at severity Info only).
pub fn uco_method(d: &PackageDigest) -> &'static str {
    match d.kind() {
        custos_model::DigestKind::Sha256 => "SHA256",
        custos_model::DigestKind::Blake3 => "BLAKE3",
    }
}

/// A digest as `{"method": "SHA256"|"BLAKE3", "hex": …}` in the plain JSON chain.
fn serialize_digest<S: serde::Serializer>(d: &PackageDigest, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeStruct as _;
    let mut st = s.serialize_struct("PackageDigest", 2)?;
    st.serialize_field("method", uco_method(d))?;
    st.serialize_field("hex", d.hex())?;
    st.end()
}

/// A step of custody.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Sealed and taken into custody on the node (`evidence.sealed`).
    Sealed,
    /// Handed over to the requesting authority (`evidence.delivered`).
    Delivered,
    /// Destroyed after its retention ended (`evidence.destroyed`).
    Destroyed,
}

impl Step {
    fn of(kind: EventType) -> Option<Step> {
        match kind {
            EventType::EvidenceSealed => Some(Step::Sealed),
            EventType::EvidenceDelivered => Some(Step::Delivered),
            EventType::EvidenceDestroyed => Some(Step::Destroyed),
            _ => None,
        }
    }

    /// The event's wire name.
    pub fn event(self) -> &'static str {
        match self {
            Step::Sealed => EventType::EvidenceSealed.as_str(),
            Step::Delivered => EventType::EvidenceDelivered.as_str(),
            Step::Destroyed => EventType::EvidenceDestroyed.as_str(),
        }
    }
}

/// One logged step of a package's custody.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustodyEvent {
    pub step: Step,
    /// The event's index in the node's log.
    pub index: u64,
    pub at: Timestamp,
}

/// One package and its logged steps, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackageCustody {
    #[serde(serialize_with = "serialize_digest")]
    pub digest: PackageDigest,
    /// Size in bytes, as `evidence.sealed` records it.
    pub size: Option<u64>,
    /// Hex SHA-256 of the package's signed `manifest.json`, as `evidence.sealed` records it.
    pub manifest_sha256: Option<String>,
    pub events: Vec<CustodyEvent>,
}

/// The chain of custody of one case's evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustodyChain {
    pub case: i64,
    /// The node's log (its origin), where every step can be checked.
    pub log: String,
    /// The requesting authority's state (ISO 3166-1 alpha-2): its role, not its name.
    pub requesting_state: String,
    /// Packages in the order they were sealed.
    pub packages: Vec<PackageCustody>,
}

impl CustodyChain {
    /// The chain of `case` from its events (any order; other kinds and other cases' events are
    /// ignored). A delivery or destruction of a package with no `evidence.sealed` among
    /// `events` still starts an entry: a chain with a gap shows the gap.
    pub fn from_events<'a>(
        case: i64,
        log: &str,
        requesting_state: &str,
        events: impl IntoIterator<Item = &'a LoggedEvent>,
    ) -> CustodyChain {
        let mut events: Vec<&LoggedEvent> = events
            .into_iter()
            .filter(|e| e.case == Some(case) && Step::of(e.kind).is_some())
            .collect();
        events.sort_by_key(|e| e.seq);
        events.dedup_by_key(|e| e.seq);
        let mut packages: Vec<PackageCustody> = Vec::new();
        for e in events {
            let (Some(step), Some(digest)) = (Step::of(e.kind), PackageDigest::from_map(&e.fields))
            else {
                continue;
            };
            let i = match packages.iter().position(|p| p.digest == digest) {
                Some(i) => i,
                None => {
                    packages.push(PackageCustody {
                        digest,
                        size: None,
                        manifest_sha256: None,
                        events: Vec::new(),
                    });
                    packages.len() - 1
                }
            };
            let p = &mut packages[i];
            if step == Step::Sealed {
                p.size = e.fields.get("size").and_then(Value::as_u64);
                p.manifest_sha256 = e.text("manifest_sha256").map(str::to_owned);
            }
            p.events.push(CustodyEvent {
                step,
                index: e.seq,
                at: e.at,
            });
        }
        CustodyChain {
            case,
            log: log.to_owned(),
            requesting_state: requesting_state.to_owned(),
            packages,
        }
    }

    /// The chain as a CASE 1.x JSON-LD document: one `uco-observable:File` per package and per
    /// manifest with their hashes, a `case-investigation:ProvenanceRecord` per package, one
    /// `case-investigation:InvestigativeAction` per logged step (performer, participant,
    /// instrument, object, result), the tool and the roles, all gathered in a `uco-core:Bundle`.
    /// Identifiers are `kb:` IRIs holding UUIDs derived from the log, the case and the step, so
    /// the node's export and the authority's name the same things alike.
    pub fn to_case(&self, tool_version: &str) -> Value {
        let id = |kind: &str, key: &str| self.iri(kind, key);
        let tool = id("tool", tool_version);
        let node = id("role", "node");
        let authority = id(
            "role",
            &format!("requesting-authority-{}", self.requesting_state),
        );
        let r = |iri: &str| json!({ "@id": iri });
        let mut graph = vec![
            json!({
                "@id": tool, "@type": "uco-tool:Tool",
                "uco-core:name": "Custos", "uco-tool:version": tool_version,
                "uco-tool:toolType": "evidence custody",
                "uco-core:description": "Seals evidence packages, logs every step of their custody in a signed transparency log, and hands them over to the requesting authority.",
            }),
            json!({
                "@id": node, "@type": "uco-role:Role", "uco-core:name": "the node",
                "uco-core:description": format!("The Custos node that keeps the evidence in custody and logs every step in its log {}.", self.log),
            }),
            json!({
                "@id": authority, "@type": "uco-role:Role",
                "uco-core:name": format!("requesting authority {}", self.requesting_state),
                "uco-core:description": format!("The authority of {} that requested the evidence and receives it.", self.requesting_state),
            }),
        ];
        for p in &self.packages {
            let key = format!("{}:{}", uco_method(&p.digest), p.digest.hex());
            let package = id("package", &key);
            let record = id("provenance-record", &key);
            graph.push(file(
                &package,
                &|kind| id(kind, &key),
                &format!("{}.age", p.digest.hex()),
                p.size,
                uco_method(&p.digest),
                p.digest.hex(),
            ));
            let mut objects = vec![r(&package)];
            if let Some(m) = &p.manifest_sha256 {
                let mkey = format!("{key}:manifest");
                let manifest = id("manifest", &mkey);
                let mut f = file(
                    &manifest,
                    &|kind| id(kind, &mkey),
                    "manifest.json",
                    None,
                    "SHA256",
                    m,
                );
                f["uco-core:description"] =
                    "The package's signed manifest: the SHA-256 of every file sealed in it.".into();
                graph.push(f);
                graph.push(json!({
                    "@id": id("relationship", &mkey), "@type": "uco-core:Relationship",
                    "uco-core:source": r(&manifest), "uco-core:target": r(&package),
                    "uco-core:kindOfRelationship": "Contained_Within",
                    "uco-core:isDirectional": true,
                }));
                objects.push(r(&manifest));
            }
            graph.push(json!({
                "@id": record, "@type": "case-investigation:ProvenanceRecord",
                "case-investigation:exhibitNumber": format!("case {} package {}", self.case, p.digest.hex()),
                "uco-core:description": format!("Evidence package of case {}, sealed to the requesting authority; every step below is an event of the log {}.", self.case, self.log),
                "uco-core:object": objects,
            }));
            for e in &p.events {
                let at = json!({ "@type": "xsd:dateTime", "@value": e.at.to_string() });
                let (what, participants, object, result) = match e.step {
                    Step::Sealed => (
                        "sealed and taken into custody on the node",
                        vec![],
                        vec![],
                        vec![r(&package), r(&record)],
                    ),
                    Step::Delivered => (
                        "handed over to the requesting authority",
                        vec![r(&authority)],
                        vec![r(&package), r(&record)],
                        vec![],
                    ),
                    Step::Destroyed => (
                        "destroyed on the node after its retention ended",
                        vec![],
                        vec![r(&package), r(&record)],
                        vec![],
                    ),
                };
                let mut action = json!({
                    "@id": id("investigative-action", &e.index.to_string()),
                    "@type": "case-investigation:InvestigativeAction",
                    "uco-core:name": e.step.event(),
                    "uco-core:description": format!("Package {} {what}: event {} of the log {}.", p.digest.hex(), e.index, self.log),
                    "uco-action:startTime": at, "uco-action:endTime": at,
                    "uco-action:performer": r(&node),
                    "uco-action:instrument": [r(&tool)],
                });
                for (field, v) in [
                    ("uco-action:participant", participants),
                    ("uco-action:object", object),
                    ("uco-action:result", result),
                ] {
                    if !v.is_empty() {
                        action[field] = v.into();
                    }
                }
                graph.push(action);
            }
        }
        let members: Vec<Value> = graph
            .iter()
            .map(|o| r(o["@id"].as_str().unwrap_or_default()))
            .collect();
        graph.insert(
            0,
            json!({
                "@id": id("bundle", ""), "@type": "uco-core:Bundle",
                "uco-core:name": format!("Chain of custody of the evidence of case {}", self.case),
                "uco-core:description": format!("Every sealing, hand-over and destruction of the evidence packages of case {} as the log {} records them.", self.case, self.log),
                "uco-core:object": members,
            }),
        );
        json!({ "@context": context(), "@graph": graph })
    }

    /// `kb:<kind>-<uuid>`: a name-based UUID (RFC 9562 version 5, the URL namespace) of the
    /// log, the case, `kind` and `key`, so stable across exports and distinct across nodes.
    fn iri(&self, kind: &str, key: &str) -> String {
        let name = format!("urn:custos:custody:{}:{}:{kind}:{key}", self.case, self.log);
        let id = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, name.as_bytes());
        format!("kb:{kind}-{id}")
    }
}

/// The `uco-observable:File` `iri` with its name, size and one hash; `id` names its parts.
fn file(
    iri: &str,
    id: &dyn Fn(&str) -> String,
    name: &str,
    size: Option<u64>,
    method: &str,
    hex: &str,
) -> Value {
    let size = |v: &mut Value| {
        if let Some(s) = size {
            v["uco-observable:sizeInBytes"] =
                json!({ "@type": "xsd:integer", "@value": s.to_string() });
        }
    };
    let mut file_facet = json!({
        "@id": id("file-facet"), "@type": "uco-observable:FileFacet",
        "uco-observable:fileName": name,
        "uco-observable:extension": name.rsplit('.').next().unwrap_or_default(),
    });
    size(&mut file_facet);
    let mut content = json!({
        "@id": id("content-data-facet"), "@type": "uco-observable:ContentDataFacet",
        "uco-observable:hash": [{
            "@id": id("hash"), "@type": "uco-types:Hash",
            "uco-types:hashMethod": method,
            "uco-types:hashValue": { "@type": "xsd:hexBinary", "@value": hex },
        }],
    });
    size(&mut content);
    json!({
        "@id": iri, "@type": "uco-observable:File",
        "uco-core:hasFacet": [file_facet, content],
    })
}

fn context() -> Value {
    json!({
        "kb": "urn:custos:kb:",
        "case-investigation": "https://ontology.caseontology.org/case/investigation/",
        "uco-action": "https://ontology.unifiedcyberontology.org/uco/action/",
        "uco-core": "https://ontology.unifiedcyberontology.org/uco/core/",
        "uco-observable": "https://ontology.unifiedcyberontology.org/uco/observable/",
        "uco-role": "https://ontology.unifiedcyberontology.org/uco/role/",
        "uco-tool": "https://ontology.unifiedcyberontology.org/uco/tool/",
        "uco-types": "https://ontology.unifiedcyberontology.org/uco/types/",
        "xsd": "http://www.w3.org/2001/XMLSchema#",
    })
}

/// The chain of custody of `case_id` as the node's log records it, or `None` if there is no
/// such case. `log` is the node's origin.
pub async fn read(
    q: &Queries<'_>,
    log: &str,
    case_id: i64,
) -> Result<Option<CustodyChain>, StoreError> {
    let Some(case) = q.case(case_id).await? else {
        return Ok(None);
    };
    let mut events = Vec::new();
    for e in q.case_events(case_id).await? {
        if e.kind().and_then(Step::of).is_none() {
            continue;
        }
        let parsed: LoggedEvent =
            serde_json::from_str(&e.body).map_err(|err| StoreError::Corrupt {
                what: format!("event {} ({})", e.seq, e.event_type),
                detail: err.to_string(),
            })?;
        events.push(parsed);
    }
    Ok(Some(CustodyChain::from_events(
        case_id,
        log,
        &case.requesting_state,
        &events,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a7988";
    const MANIFEST: &str = "a1b2c3d4e5f60718a1b2c3d4e5f60718a1b2c3d4e5f60718a1b2c3d4e5f60718";
    const TARGET: &str = "subscriber@mail.example";
    const KID: &str = "kid-of-the-authority-key";

    fn event(seq: u64, case: i64, kind: EventType, at: &str, fields: Value) -> LoggedEvent {
        LoggedEvent {
            kind,
            at: at.parse().unwrap(),
            seq,
            case: Some(case),
            fields: fields.as_object().unwrap().clone(),
        }
    }

    /// A v1 package's whole life, with what the private bodies hold beside the digests.
    fn lifecycle(digest_field: &str, digest: &str) -> Vec<LoggedEvent> {
        vec![
            event(
                7,
                3,
                EventType::EvidenceSealed,
                "2026-11-02T09:15:00Z",
                json!({
                    digest_field: digest, "manifest_sha256": MANIFEST, "size": 4096,
                    "recipient": "age1recipientofxa", "signer": "node+abcd+KEYTEXT", "targets": [TARGET],
                }),
            ),
            event(
                9,
                3,
                EventType::EvidenceDelivered,
                "2026-11-03T10:00:00Z",
                json!({
                    digest_field: digest, "to": KID,
                }),
            ),
            event(
                12,
                3,
                EventType::EvidenceDestroyed,
                "2027-02-01T00:00:00Z",
                json!({
                    digest_field: digest, "reason": "retention of 90 days after delivery ended",
                    "delivered_at": "2026-11-03T10:00:00Z",
                }),
            ),
        ]
    }

    fn chain(events: &[LoggedEvent]) -> CustodyChain {
        CustodyChain::from_events(3, "evidence.example.org/log", "XA", events)
    }

    #[test]
    fn a_sealed_delivered_and_destroyed_package_as_case() {
        let doc = chain(&lifecycle("package_sha256", SHA)).to_case("0.1.0");
        insta::assert_snapshot!(serde_json::to_string_pretty(&doc).unwrap());
    }

    #[test]
    fn a_v2_package_is_named_by_its_blake3_digest() {
        let c = chain(&lifecycle("package_blake3", SHA));
        assert_eq!(c.packages.len(), 1);
        assert_eq!(
            c.packages[0].digest,
            PackageDigest::new(custos_model::DigestKind::Blake3, SHA).unwrap()
        );
        let doc = c.to_case("0.1.0");
        let hashes: Vec<(&str, &str)> = doc["@graph"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|o| o["uco-core:hasFacet"].as_array())
            .flatten()
            .filter_map(|f| f["uco-observable:hash"].as_array())
            .flatten()
            .map(|h| {
                (
                    h["uco-types:hashMethod"].as_str().unwrap(),
                    h["uco-types:hashValue"]["@value"].as_str().unwrap(),
                )
            })
            .collect();
        // The package by BLAKE3, its manifest still by SHA-256.
        assert_eq!(hashes, [("BLAKE3", SHA), ("SHA256", MANIFEST)]);
    }

    #[test]
    fn events_are_grouped_per_package_in_log_order_and_other_cases_are_left_out() {
        let other = "00".repeat(32);
        let mut events = lifecycle("package_sha256", SHA);
        events.push(event(
            8,
            3,
            EventType::EvidenceSealed,
            "2026-11-02T09:20:00Z",
            json!({
                "package_sha256": other, "manifest_sha256": MANIFEST, "size": 1,
            }),
        ));
        events.push(event(
            10,
            4,
            EventType::EvidenceDelivered,
            "2026-11-03T10:00:00Z",
            json!({
                "package_sha256": other, "to": KID,
            }),
        ));
        events.push(event(
            11,
            3,
            EventType::RequestWithdrawn,
            "2026-11-03T10:00:00Z",
            json!({}),
        ));
        events.reverse();
        let c = chain(&events);
        let got: Vec<(String, Vec<u64>)> = c
            .packages
            .iter()
            .map(|p| {
                (
                    p.digest.hex().to_owned(),
                    p.events.iter().map(|e| e.index).collect(),
                )
            })
            .collect();
        assert_eq!(got, [(SHA.to_owned(), vec![7, 9, 12]), (other, vec![8])]);
        assert_eq!(c.packages[0].size, Some(4096));
        assert_eq!(c.packages[0].manifest_sha256.as_deref(), Some(MANIFEST));
    }

    #[test]
    fn no_target_key_recipient_or_free_text_leaves_in_the_export() {
        let text = chain(&lifecycle("package_sha256", SHA))
            .to_case("0.1.0")
            .to_string();
        for secret in [
            TARGET,
            KID,
            "age1recipientofxa",
            "KEYTEXT",
            "retention of 90 days",
        ] {
            assert!(!text.contains(secret), "{secret} leaked");
        }
    }

    #[test]
    fn every_node_has_its_own_kb_iri_and_every_reference_resolves() {
        let doc = chain(&lifecycle("package_sha256", SHA)).to_case("0.1.0");
        let mut ids = Vec::new();
        let mut refs = Vec::new();
        fn walk(v: &Value, ids: &mut Vec<String>, refs: &mut Vec<String>) {
            match v {
                Value::Object(m) => {
                    if let Some(id) = m.get("@id").and_then(Value::as_str) {
                        if m.len() == 1 {
                            refs.push(id.to_owned());
                        } else {
                            ids.push(id.to_owned());
                        }
                    }
                    m.values().for_each(|v| walk(v, ids, refs));
                }
                Value::Array(a) => a.iter().for_each(|v| walk(v, ids, refs)),
                _ => {}
            }
        }
        walk(&doc["@graph"], &mut ids, &mut refs);
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ids.len(), "duplicate identifiers: {ids:?}");
        for id in &ids {
            assert!(id.starts_with("kb:") && !id.starts_with("_:"), "{id}");
        }
        for r in &refs {
            assert!(ids.contains(r), "{r} refers to nothing");
        }
        // The same events give the same identifiers (the node's export and the authority's).
        assert_eq!(
            doc,
            chain(&lifecycle("package_sha256", SHA)).to_case("0.1.0")
        );
    }
}
