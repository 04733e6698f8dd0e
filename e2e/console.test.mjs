// End-to-end test of the reviewer console in headless Debian Chromium, driven by Playwright.
//
// Run by crates/cli/tests/console_browser.rs, which starts a real `custos serve` with users and
// submitted requests and passes:
//   CUSTOS_URL          the node's base URL
//   CUSTOS_PASSWORD     every test user's console password
//   CUSTOS_CASES        JSON: case numbers by role in the story (refuse, narrow, second, hold, emergency,
//                       infoexec, referred, reclass, order: issue 13's case whose order is missing)
//   CUSTOS_SCREENSHOTS  where to save screenshots of each page, 1366×768 and 390×844 (NAME-390.png)
// Exits non-zero, naming the failed step, on the first failure.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

const BASE = process.env.CUSTOS_URL;
const PASSWORD = process.env.CUSTOS_PASSWORD;
const CASES = JSON.parse(process.env.CUSTOS_CASES ?? "{}");
const SHOTS = process.env.CUSTOS_SCREENSHOTS ?? "screenshots";
assert.ok(BASE && PASSWORD, "CUSTOS_URL and CUSTOS_PASSWORD must be set");
mkdirSync(SHOTS, { recursive: true });

let current = "start";
function step(name) {
  current = name;
  console.log(`- ${name}`);
}

// Chromium as the probe of this machine kind starts it: no sandbox (root), no GPU, and none of
// the background connections a closed network refuses.
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});

async function session(name) {
  // bypassCSP lets the test inject axe-core; the page's own CSP is asserted separately.
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, bypassCSP: true });
  const page = await context.newPage();
  await page.goto(`${BASE}/console/`);
  assert.match(page.url(), /\/console\/sign-in/, "an anonymous visitor is sent to sign in");
  await page.getByLabel("User name").fill(name);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/console\/queue/);
  return { context, page };
}

async function axe(page, what) {
  await page.evaluate(AXE);
  const result = await page.evaluate(() =>
    window.axe.run(document, { runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"] }));
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(
    bad.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`),
    [],
    `axe-core found serious accessibility violations on ${what}`,
  );
}

// Each page at the width it was opened at (1366 px) as NAME.png and at 390 px as NAME-390.png.
async function shot(page, name) {
  await page.screenshot({ path: `${SHOTS}/${name}.png` });
  const size = page.viewportSize();
  if (size && size.width !== 390) {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: `${SHOTS}/${name}-390.png` });
    await page.setViewportSize(size);
  }
}

// A form post made from inside the page (same origin, the session's cookie), for checking that
// the server refuses what the page does not offer.
async function postFromPage(page, path, fields) {
  return page.evaluate(async ({ path, fields }) => {
    const r = await fetch(path, { method: "POST", body: new URLSearchParams(fields), redirect: "manual" });
    return { status: r.status, text: await r.text() };
  }, { path, fields });
}

async function csrfOf(page) {
  return page.locator('form[action="/console/sign-out"] input[name="csrf"]').inputValue();
}

try {
  step("sign-in page: accessible, locks a name after five failures");
  {
    const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, bypassCSP: true });
    const page = await context.newPage();
    const resp = await page.goto(`${BASE}/console/sign-in`);
    const csp = resp.headers()["content-security-policy"] ?? "";
    assert.match(csp, /script-src 'self'/, "pages carry a content security policy");
    assert.match(csp, /frame-ancestors 'none'/);
    await axe(page, "the sign-in page");
    await shot(page, "sign-in");
    for (let i = 1; i <= 5; i++) {
      await page.getByLabel("User name").fill("mallory");
      await page.getByLabel("Password").fill(`wrong guess ${i}`);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.waitForLoadState();
    }
    // A password typed into the name field by mistake.
    await page.getByLabel("User name").fill("Hunter2 Secret Phrase");
    await page.getByLabel("Password").fill("x");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForLoadState();
    await page.getByLabel("User name").fill("mallory");
    await page.getByLabel("Password").fill("wrong guess 6");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForLoadState();
    await assert.doesNotReject(page.getByRole("alert").filter({ hasText: "too many failed sign-ins" }).waitFor());
    await context.close();
  }

  step("reviewer signs in; the session cookie is HttpOnly and SameSite=Strict");
  const alice = await session("alice");
  {
    const cookies = await alice.context.cookies();
    const c = cookies.find((c) => c.name === "custos_session");
    assert.ok(c, "a session cookie is set");
    assert.equal(c.httpOnly, true);
    assert.equal(c.sameSite, "Strict");
  }

  step("queue: counts, deadline order, accessible");
  {
    const { page } = alice;
    await assert.doesNotReject(page.getByRole("heading", { name: "Queue" }).waitFor());
    const open = await page.locator(".counts li").first().innerText();
    assert.match(open, new RegExp(`^${CASES.total_open}\\s+Open`), `the first count is the open total: ${open}`);
    const deadlines = await page.locator("table.queue tbody tr td:nth-child(2)").allInnerTexts();
    const sorted = [...deadlines].sort((a, b) => a.slice(0, 20).localeCompare(b.slice(0, 20)));
    assert.deepEqual(deadlines, sorted, "soonest deadline first");
    await axe(page, "the queue");
    await shot(page, "queue");
  }

  step("queue: filter by emergency, then by outcome and state");
  {
    const { page } = alice;
    await page.getByLabel("Emergency").selectOption("yes");
    await page.getByRole("button", { name: "Apply" }).click();
    await page.waitForURL(/emergency=yes/);
    const rows = page.locator("table.queue tbody tr");
    // The two unverified ones lead (their clocks), then the executed one whose order is missing.
    assert.equal(await rows.count(), 3, "three emergency requests");
    assert.match(await rows.first().innerText(), new RegExp(`#${CASES.emergency}\\b`));
    assert.match(await rows.nth(1).innerText(), new RegExp(`#${CASES.callback}\\b`));
    assert.match(await rows.nth(2).innerText(), new RegExp(`#${CASES.order}\\b`));
    await page.getByRole("link", { name: "Clear" }).click();
    await page.getByLabel("Recommendation").selectOption("refuse");
    await page.getByLabel("Requesting state").selectOption("XA");
    await page.getByRole("button", { name: "Apply" }).click();
    await page.waitForURL(/outcome=refuse/);
    const texts = await rows.allInnerTexts();
    assert.ok(texts.length >= 1, "refusals from XA are listed");
    for (const t of texts) {
      assert.match(t, /Refuse/);
      assert.match(t, /\(XA\)/);
    }
    assert.ok(texts.some((t) => t.includes(`#${CASES.refuse}`)), "the case to refuse is among them");
    const misspelt = await page.goto(`${BASE}/console/queue?outcome=refused`);
    assert.equal(misspelt.status(), 400, "a misspelt filter is refused, not ignored");
    assert.equal((await page.goto(`${BASE}/console/queue?state=Xanadu`)).status(), 400);
    await page.goto(`${BASE}/console/queue?outcome=refuse&state=XA`);
  }

  step("request page: readable request, verified signature, findings with legal basis");
  {
    const { page } = alice;
    await page.getByRole("link", { name: `#${CASES.refuse}`, exact: true }).click();
    await page.waitForURL(new RegExp(`/console/requests/${CASES.refuse}$`));
    await assert.doesNotReject(page.locator("#signature", { hasText: "Signature verified." }).waitFor());
    const findings = await page.locator("table.findings").innerText();
    assert.match(findings, /offence-out-of-scope/);
    assert.match(findings, /UNCC art\./, "each finding carries its legal basis");
    assert.match(await page.locator("section", { has: page.getByRole("heading", { name: "Offences" }) }).innerText(), /Defamation/i);
    await axe(page, "a request page");
    await shot(page, "request");
  }

  step("refuse with reasons and grounds picked from the findings");
  {
    const { page } = alice;
    await page.getByLabel("Refuse", { exact: true }).check();
    const before = await page.locator("#timeline tbody tr").count();
    await page.getByRole("checkbox", { name: /offence-out-of-scope/ }).check();
    await page.getByRole("checkbox", { name: /expression-offence/ }).check();
    await page.getByLabel(/^Reason/).fill("Defamation is outside the Convention's criminal scope and is protected expression here.");
    assert.match(await page.locator("label[for=reason]").innerText(), /the requester reads this/);
    await page.getByLabel(/^Internal note/).fill("Third such request this month from this authority.");
    await page.getByRole("button", { name: "Record decision" }).click();
    await page.waitForURL(/done=decided/);
    await assert.doesNotReject(page.getByRole("status").filter({ hasText: "Decision recorded" }).waitFor());
    assert.equal(await page.locator("#case-status").innerText(), "Refused");
    const rows = page.locator("#timeline tbody tr");
    assert.equal(await rows.count(), before + 2, "two events more in the timeline: the decision and the reply");
    const recorded = await rows.nth(before).innerText();
    assert.match(recorded, /decision\.recorded/);
    assert.match(recorded, /refuse by alice/);
    assert.match(recorded, /grounds: offence-out-of-scope, expression-offence/);
    assert.match(recorded, /internal note: Third such request this month/);
    const told = await rows.last().innerText();
    assert.match(told, /reply\.communicated/);
    assert.match(told, /the requester was told \(refused\): refuse: Defamation is outside/);
    assert.doesNotMatch(told, /alice|offence-out-of-scope|expression-offence|Third such request/,
      "the reply names no one, no finding and no internal note");
    const proof = rows.nth(before).getByRole("link", { name: /inclusion proof/ });
    const href = await proof.getAttribute("href");
    const res = await page.request.get(`${BASE}${href}`);
    assert.equal(res.status(), 200, "the timeline links to a working inclusion proof");
    const body = await res.json();
    assert.ok(Array.isArray(body.proof) && typeof body.root === "string");
  }

  step("narrow: the form refuses widening and keeps the input, then records a further narrowing");
  {
    const { page } = alice;
    await page.goto(`${BASE}/console/requests/${CASES.narrow}`);
    await assert.doesNotReject(page.getByRole("heading", { name: "Proposed narrowing beside the original" }).waitFor());
    const compare = await page.locator("table.compare").innerText();
    assert.match(compare, /narrowed/);
    await page.getByRole("heading", { name: "Assessment" }).scrollIntoViewIfNeeded();
    await page.evaluate(() => document.getElementById("h-assessment").scrollIntoView());
    await shot(page, "request-narrowing");
    await page.getByLabel("Execute narrowed").check();
    const from = page.getByLabel("Period from (UTC)");
    const proposedFrom = await from.inputValue();
    // Try to reach before the period asked: refused, and the typed reason survives.
    await from.fill("2000-01-01T00:00");
    await page.getByLabel(/^Reason/).fill("Only the last year is needed and proportionate.");
    await page.getByRole("button", { name: "Record decision" }).click();
    await assert.doesNotReject(page.locator("#refusal", { hasText: "reaches outside the period asked" }).waitFor());
    assert.equal(await page.getByLabel(/^Reason/).inputValue(), "Only the last year is needed and proportionate.");
    assert.equal(await from.inputValue(), "2000-01-01T00:00", "the typed value is kept to correct");
    assert.equal(await page.evaluate(() => document.activeElement.id), "period_from", "the focus is on the field in question");
    assert.equal(await from.getAttribute("aria-invalid"), "true");
    await assert.doesNotReject(page.locator(".field-error", { hasText: "reaches outside the period asked" }).waitFor());
    assert.doesNotMatch(await page.locator("#refusal").innerText(), /\$\./, "no JSON pointer shown to people");
    await axe(page, "a request page with a refusal");
    // Now narrow properly: the proposed period, and traffic data dropped.
    await from.fill(proposedFrom);
    await page.getByLabel("Traffic data", { exact: true }).uncheck();
    // Typed conditions: the requester must accept them before any evidence is released.
    await page.getByLabel(/^Use only for/).fill("The ransomware investigation named in the request.");
    await page.getByLabel(/^Delete this many days/).fill("180");
    await page.getByRole("button", { name: "Record decision" }).click();
    await page.waitForURL(/done=decided/);
    assert.equal(await page.locator("#case-status").innerText(), "Executing");
    const conditions = await page.locator("#conditions-state").innerText();
    assert.match(conditions, /use only for: The ransomware investigation named in the request\.; delete 180 days after the hand-over/);
    assert.match(conditions, /not yet accepted by the requesting authority/);
    const last = await page.locator("#timeline tbody tr").filter({ hasText: "decision.recorded" }).last().innerText();
    assert.match(last, /execute narrowed by alice/);
    assert.match(await page.locator("#decision-in-force").innerText(), /Execute narrowed by alice/);
  }

  step("ask for information: the message to the requester is recorded");
  {
    const { page } = alice;
    await page.goto(`${BASE}/console/requests/${CASES.gag}`);
    // Open-ended secrecy: the form still offers its end, pre-filled with the proposal.
    await page.getByLabel("Execute narrowed").check();
    const until = page.getByLabel("Secrecy ends (UTC)");
    assert.match(await until.inputValue(), /^\d{4}-\d\d-\d\dT\d\d:\d\d/, "the proposed end of secrecy is offered");
    await page.getByLabel("Ask for information").check();
    assert.equal(await page.locator("#narrowing").isVisible(), false, "the narrowing part hides");
    await page.getByLabel("What is missing").fill("Please state when confidentiality can end.");
    await page.getByLabel(/^Reason/).fill("Open-ended secrecy cannot be accepted as it stands.");
    await page.getByRole("button", { name: "Record decision" }).click();
    await page.waitForURL(/done=information/);
    assert.equal(await page.locator("#case-status").innerText(), "Awaiting information");
    assert.match(await page.locator("#timeline tbody tr").last().innerText(),
      /message to the requester: Please state when confidentiality can end\./);
  }

  step("both decisions are in the log, seen through the API");
  {
    for (const [id, decision] of [[CASES.refuse, "refuse"], [CASES.narrow, "execute_narrowed"]]) {
      const res = await alice.page.request.get(`${BASE}/v1/requests/${id}`, {
        headers: { authorization: `Bearer ${process.env.CUSTOS_ALICE_TOKEN}` },
      });
      assert.equal(res.status(), 200);
      const c = await res.json();
      assert.equal(c.decision.decision, decision);
      if (decision === "execute_narrowed") {
        assert.deepEqual(c.decision.narrowed.data_categories, ["subscriber"]);
      }
    }
  }

  step("each proposed narrowing, accepted as the console offers it, is the decision the log records");
  {
    const { page } = alice;
    for (const id of CASES.proposals) {
      await page.goto(`${BASE}/console/requests/${id}`);
      await page.getByLabel("Execute narrowed").check();
      await page.getByLabel(/^Reason/).fill("Executed as the assessment proposes.");
      await page.getByRole("button", { name: "Record decision" }).click();
      await page.waitForURL(/done=/);
      const res = await page.request.get(`${BASE}/v1/requests/${id}`, {
        headers: { authorization: `Bearer ${process.env.CUSTOS_ALICE_TOKEN}` },
      });
      assert.equal(res.status(), 200);
      const c = await res.json();
      const proposed = c.assessment.narrowed;
      assert.ok(proposed, `case ${id}: the assessment proposes a narrowing (${c.assessment.outcome})`);
      const d = c.decision ?? c.pending_decision;
      assert.ok(d, `case ${id}: a decision was recorded`);
      assert.equal(d.decision, "execute_narrowed", `case ${id}`);
      assert.deepEqual(d.narrowed.data_categories, proposed.data_categories, `case ${id}: categories`);
      assert.deepEqual(d.narrowed.period, proposed.period, `case ${id}: period`);
      assert.equal(d.narrowed.confidentiality_until, proposed.confidentiality_until, `case ${id}: end of secrecy`);
    }
  }

  step("notice: executed without secrecy, the person is owed a notice; the request page marks it given by hand");
  {
    const { page } = alice;
    const id = CASES.proposals[2]; // p13: no secrecy asked
    await page.goto(`${BASE}/console/requests/${id}`);
    const notice = page.locator("#notice");
    assert.match(await notice.innerText(), /not yet given/);
    await notice.locator("summary").click();
    await notice.getByLabel("How and when it was given").fill("Handed to the account holder by registered letter.");
    await notice.getByRole("button", { name: /Mark sent by hand/ }).click();
    await page.waitForURL(/done=notice-acted/);
    assert.match(await page.locator("#notice").innerText(), /^Notice to the person concerned\s+Given /);
    await axe(page, "a request page with a notice given");
  }

  step("second review: a reviewer proposes executing over a refusal; reviewers cannot confirm");
  {
    const { page } = alice;
    await page.goto(`${BASE}/console/requests/${CASES.second}`);
    await page.getByLabel("Execute as asked").check();
    await page.getByLabel(/^Reason/).fill("The requesting state has given a binding assurance in a separate note.");
    await page.getByRole("button", { name: "Record decision" }).click();
    await page.waitForURL(/done=proposed/);
    await assert.doesNotReject(page.locator("#pending").waitFor());
    assert.match(await page.locator("#second-review-note").innerText(), /supervisor/);
    assert.equal(await page.getByRole("button", { name: "Confirm the decision" }).count(), 0);
    const forced = await postFromPage(page, `/console/requests/${CASES.second}/second-review`,
      { csrf: await csrfOf(page), confirm: "yes", second_reason: "Trying anyway." });
    assert.equal(forced.status, 403, "the server refuses a reviewer's confirmation");
    assert.match(forced.text, /supervisor/);
    await page.evaluate(() => document.getElementById("h-decision").scrollIntoView());
    const noToken = await postFromPage(page, `/console/requests/${CASES.second}/second-review`,
      { confirm: "yes", second_reason: "No token." });
    assert.equal(noToken.status, 403, "a form without the CSRF token is refused");
    await shot(page, "request-second-review");
  }

  step("second review: a supervisor other than the proposer confirms");
  const sam = await session("sam");
  {
    const { page } = sam;
    await page.goto(`${BASE}/console/requests/${CASES.second}`);
    await page.getByLabel("Your reason").fill("Checked the assurance note; execution may proceed.");
    await page.getByRole("button", { name: "Confirm the decision" }).click();
    await page.waitForURL(/done=confirmed/);
    assert.equal(await page.locator("#case-status").innerText(), "Executing");
    assert.match(await page.locator("#decision-in-force").innerText(), /confirmed by sam/);
  }

  step("four eyes over a request for information: a reviewer's execution waits for a supervisor");
  {
    const { page } = alice;
    await page.goto(`${BASE}/console/requests/${CASES.infoexec}`);
    await page.getByLabel("Execute as asked").check();
    await page.getByLabel(/^Reason/).fill("The data protection terms are in the treaty between the two states.");
    await page.getByRole("button", { name: "Record decision" }).click();
    await page.waitForURL(/done=proposed/);
    assert.equal(await page.locator("#case-status").innerText(), "Awaiting second review");
    assert.match(await page.locator("#second-review-note").innerText(), /supervisor/);
  }
  {
    const { page } = sam;
    await page.goto(`${BASE}/console/requests/${CASES.infoexec}`);
    await page.getByLabel("Your reason").fill("The treaty's data protection clause covers this transfer.");
    await page.getByRole("button", { name: "Confirm the decision" }).click();
    await page.waitForURL(/done=confirmed/);
    assert.equal(await page.locator("#case-status").innerText(), "Executing");
    assert.match(await page.locator("#decision-in-force").innerText(), /Execute by alice, confirmed by sam/);
  }

  step("a referral executed only with a reason for its referred finding");
  {
    const { page } = alice;
    await page.goto(`${BASE}/console/requests/${CASES.referred}`);
    await page.getByLabel("Execute as asked").check();
    const box = page.getByLabel("Why too-many-targets does not stand in the way");
    assert.equal(await box.isVisible(), true, "the reason box shows for an execution");
    await page.getByLabel(/^Reason/).fill("Every number belongs to the ring named in the facts.");
    await page.getByRole("button", { name: "Record decision" }).click();
    await assert.doesNotReject(page.locator("#refusal", { hasText: "The reason for too-many-targets" }).waitFor());
    assert.equal(await page.evaluate(() => document.activeElement.id), "finding_reason_too-many-targets");
    assert.equal(await page.getByLabel(/^Reason/).inputValue(), "Every number belongs to the ring named in the facts.");
    await box.fill("All thirty numbers were used by the one extortion ring the facts describe.");
    await page.getByRole("button", { name: "Record decision" }).click();
    await page.waitForURL(/done=decided/);
    assert.equal(await page.locator("#case-status").innerText(), "Executing");
    assert.match(await page.locator("#decision-in-force").innerText(), /On too-many-targets: All thirty numbers/);
  }

  step("reclassification: a reviewer corrects a penalty; lightening the recommendation waits for a supervisor");
  {
    const { page } = alice;
    await page.goto(`${BASE}/console/requests/${CASES.reclass}`);
    assert.match(await page.locator("#classification").innerText(), /drug_trafficking, death/);
    await page.getByLabel(/^Maximum penalty of offence 0/).fill("20");
    await page.getByLabel(/^Why the classification is wrong/).fill("The statute cited provides at most twenty years, not death.");
    await page.getByRole("button", { name: "Correct the classification" }).click();
    await page.waitForURL(/done=reclassification-proposed/);
    await assert.doesNotReject(page.locator("#pending-correction", { hasText: "Refuse → Execute" }).waitFor());
    assert.match(await page.locator("#correction-review-note").innerText(), /supervisor/);
    assert.equal(await page.getByRole("button", { name: "Confirm the correction" }).count(), 0);
    assert.equal(await page.locator("#decide").count(), 0, "no decision while the correction waits");
    await axe(page, "a request page with a correction awaiting review");
  }
  {
    const { page } = sam;
    await page.goto(`${BASE}/console/requests/${CASES.reclass}`);
    await page.getByLabel("Your reason").fill("The statute's text was checked; twenty years is right.");
    await page.getByRole("button", { name: "Confirm the correction" }).click();
    await page.waitForURL(/done=confirmed/);
    const both = await page.locator("#reassessed").innerText();
    assert.match(both, /Refuse/, "the original assessment is shown");
    assert.match(both, /Execute/, "beside the corrected one");
    assert.match(await page.locator("#classification").innerText(), /drug_trafficking, death\s+drug_trafficking, 20 years\s+corrected/);
    assert.match(await page.locator("#corrections").innerText(), /by alice, confirmed by sam/);
    assert.match(await page.locator("#timeline tbody tr").last().innerText(), /request\.reclassified/);
    await page.evaluate(() => document.getElementById("h-classification").scrollIntoView());
    await axe(page, "a reclassified request page");
    await shot(page, "request-reclassified");
  }
  {
    // On the corrected facts the recommendation is to execute: one reviewer may follow it.
    const { page } = alice;
    await page.goto(`${BASE}/console/requests/${CASES.reclass}`);
    await page.getByLabel("Execute as asked").check();
    await page.getByLabel(/^Reason/).fill("Executed on the corrected classification.");
    await page.getByRole("button", { name: "Record decision" }).click();
    await page.waitForURL(/done=decided/);
    assert.equal(await page.locator("#case-status").innerText(), "Executing");
  }

  step("holds and secrecy: renew a hold, export both CSVs");
  {
    const { page } = sam;
    await page.getByRole("link", { name: "Holds and secrecy" }).click();
    await page.waitForURL(/\/console\/holds$/);
    const row = page.locator("#holds tbody tr", { hasText: `#${CASES.hold}` });
    assert.match(await row.innerText(), /\t0$|\b0\b/, "not yet renewed");
    await axe(page, "the holds page");
    await shot(page, "holds");
    await row.getByText("Renew or release").click();
    await row.getByLabel("Why renew").fill("The investigation still needs the data.");
    await row.getByRole("button", { name: /^Renew to/ }).click();
    await page.waitForURL(/done=renewed/);
    assert.match(await page.locator("#holds tbody tr", { hasText: `#${CASES.hold}` }).innerText(), /\b1\b/);
    const onCase = await page.request.get(`${BASE}/console/requests/${CASES.hold}`);
    assert.match(await onCase.text(), /renewed 1 times/, "the request page shows its own hold");
    const holds = await page.request.get(`${BASE}/console/holds.csv`);
    assert.equal(holds.status(), 200);
    assert.match(holds.headers()["content-type"], /text\/csv/);
    const lines = (await holds.text()).trim().split("\n");
    assert.equal(lines[0], "case,request_id,state,authority,started_at,expires_at,renewals");
    assert.ok(!/\.\d+Z/.test(lines.join("\n")), "times in whole seconds");
    assert.ok(lines.some((l) => l.startsWith(`${CASES.hold},`) && l.endsWith(",1")), lines.join("\n"));
    const secrecy = await page.locator("#secrecy tbody tr", { hasText: `#${CASES.gag}` }).innerText();
    assert.match(secrecy, /no end given/, "open-ended confidentiality is listed");
    const notices = await page.request.get(`${BASE}/console/notices.csv`);
    assert.equal(notices.status(), 200);
    const csv = await notices.text();
    assert.match(csv, /^case,request_id,state,authority,confidentiality_until,/);
    assert.ok(csv.split("\n").some((l) => l.startsWith(`${CASES.gag},E2E-GAG,`)), csv);
  }

  step("log status: checkpoint signature verified, verifier key shown");
  {
    const { page } = sam;
    await page.getByRole("link", { name: "Log status" }).click();
    await assert.doesNotReject(page.locator("#checkpoint-signature", { hasText: "Checkpoint signature verified." }).waitFor());
    assert.equal((await page.locator("#verifier").innerText()).trim(), process.env.CUSTOS_VERIFIER);
    await axe(page, "the log page");
    await shot(page, "log");
  }

  step("profiles: the node's profile with its rules, bases and recorded proof");
  {
    const { page } = sam;
    await page.getByRole("link", { name: "Profiles" }).click();
    await page.waitForURL(/\/console\/profiles$/);
    await axe(page, "the profiles page");
    await page.getByRole("link", { name: "rights-first" }).click();
    await page.waitForURL(/\/console\/profiles\/rights-first$/);
    await assert.doesNotReject(page.locator("#proof-status", { hasText: "Proved on 2026-11-30 for this exact profile text." }).waitFor());
    assert.ok((await page.locator("#rules tbody tr").count()) > 15);
    await assert.doesNotReject(page.locator("#properties", { hasText: "judicial-authorization" }).waitFor());
    await axe(page, "a profile page");
    await shot(page, "profile");
  }

  step("auditor: reads every page, every change refused");
  const audrey = await session("audrey");
  {
    const { page } = audrey;
    await page.goto(`${BASE}/console/requests/${CASES.emergency}`);
    assert.equal(await page.locator("#decide").count(), 0, "no decision form for auditors");
    const forced = await postFromPage(page, `/console/requests/${CASES.emergency}/decision`,
      { csrf: await csrfOf(page), decision: "execute", reason: "Auditor trying." });
    assert.equal(forced.status, 403);
    assert.match(forced.text, /auditor/);
    const renew = await postFromPage(page, `/console/requests/${CASES.hold}/hold/renew`, { csrf: await csrfOf(page) });
    assert.equal(renew.status, 403);
    await page.goto(`${BASE}/console/holds`);
    assert.equal(await page.getByRole("button", { name: /Renew/ }).count(), 0);
  }

  // --- follow-up of a preservation (issue 13) ---
  step("follow-up: the request pages link a preservation and its follow-up both ways");
  {
    const { page } = sam;
    await page.goto(`${BASE}/console/requests/${CASES.follow}`);
    const follows = page.locator("#follows");
    assert.match(await follows.innerText(), new RegExp(`Follows case ${CASES.hold} \\(E2E-HOLD`));
    await follows.getByRole("link", { name: String(CASES.hold) }).click();
    await page.waitForURL(new RegExp(`/console/requests/${CASES.hold}$`));
    const by = page.locator("#follow-links .followed-by");
    assert.match(await by.innerText(), new RegExp(`Followed by case ${CASES.follow} \\(E2E-FOLLOW`));
    assert.match(await by.innerText(), /the hold is kept while it is pending/);
    await axe(page, "a preservation with its follow-up");
    await shot(page, "follow-up");
  }
  // --- end of follow-up ---

  // ── Issue 16: find and archive, no lost updates, the record is the decision, phones ─────
  step("search: by request id and by target identifier; refused cases in their list; filters survive");
  {
    const { page } = alice;
    await page.goto(`${BASE}/console/queue`);
    await page.getByLabel(/^Search by request id/).fill("E2E-GAG");
    await page.getByRole("button", { name: "Search", exact: true }).click();
    await page.waitForURL(/q=E2E-GAG/);
    const rows = page.locator("table.queue tbody tr");
    assert.equal(await rows.count(), 1, "one case has this request id");
    assert.match(await rows.first().innerText(), new RegExp(`#${CASES.gag}\\b`));
    await page.goto(`${BASE}/console/queue?q=${encodeURIComponent("+999 555 1017")}`);
    const found = await rows.allInnerTexts();
    assert.equal(await rows.filter({ has: page.getByRole("link", { name: `#${CASES.targets}`, exact: true }) }).count(), 1,
      `a target identifier finds its case: ${found}`);
    await page.goto(`${BASE}/console/queue`);
    // A row by its case link (authority names carry numbers too).
    const row = (n) => rows.filter({ has: page.getByRole("link", { name: `#${n}`, exact: true }) });
    assert.equal(await row(CASES.refuse).count(), 0, "a refused case leaves the queue");
    await page.locator(".counts a", { hasText: "Refused" }).click();
    await page.waitForURL(/status=refused/);
    assert.equal(await row(CASES.refuse).count(), 1, "and is in the refused list");
    await page.getByRole("link", { name: `#${CASES.refuse}`, exact: true }).click();
    await page.waitForURL(new RegExp(`/console/requests/${CASES.refuse}$`));
    await page.getByRole("link", { name: "← Back to the list" }).click();
    await page.waitForURL(/status=refused/);
    assert.equal(await page.locator("#f-status").inputValue(), "refused", "the filter survived the visit");
    await page.getByRole("link", { name: "Dense table" }).click();
    await page.waitForURL(/dense=1/);
    assert.equal(await page.locator("table.queue.dense").count(), 1);
    await page.goto(`${BASE}/console/queue?status=all&from=2000-01-01`);
    assert.ok(await rows.count() >= CASES.total_open, "every case, open or not");
    assert.equal(await row(CASES.refuse).count(), 1, "the refused case is among all cases");
    assert.equal((await page.goto(`${BASE}/console/queue?from=yesterday`)).status(), 400, "a bad date is refused");
  }

  step("no lost updates: a decision on a stale page is refused, says who changed the case, keeps the text");
  {
    const first = alice.page;
    const second = await alice.context.newPage();
    await first.goto(`${BASE}/console/requests/${CASES.clash}`);
    await second.goto(`${BASE}/console/requests/${CASES.clash}`);
    await first.getByLabel("Ask for information").check();
    await first.getByLabel("What is missing").fill("Please name the investigating judge.");
    await first.getByLabel(/^Reason/).fill("The authorization is not described.");
    await first.getByRole("button", { name: "Record decision" }).click();
    await first.waitForURL(/done=information/);
    const typed = "Refused: the request names no offence we can assess against our law.";
    await second.getByLabel("Refuse", { exact: true }).check();
    await second.getByLabel(/^Reason/).fill(typed);
    const [resp] = await Promise.all([
      second.waitForResponse((r) => r.url().endsWith(`/console/requests/${CASES.clash}/decision`)),
      second.getByRole("button", { name: "Record decision" }).click(),
    ]);
    assert.equal(resp.status(), 412);
    const clash = await second.locator("#refusal").innerText();
    assert.match(clash, /Someone else changed this case while you had it open/);
    assert.match(clash, /alice .* on \d{4}-\d\d-\d\d \d\d:\d\d UTC/, clash);
    assert.equal(await second.getByLabel(/^Reason/).inputValue(), typed, "the typed reason is kept");
    assert.equal(await second.locator("#case-status").innerText(), "Awaiting information", "the page shows the case as it stands");
    await axe(second, "a request page after a clash");
    await second.close();
  }

  step("narrowing by target: drop targets; the recorded decision lists only those kept");
  {
    const { page } = alice;
    await page.goto(`${BASE}/console/requests/${CASES.targets}`);
    await page.getByLabel("Execute narrowed").check();
    const boxes = page.locator('#targets input[name="target"]');
    const all = await boxes.count();
    assert.ok(all >= 30, `a checkbox per target: ${all}`);
    for (let i = 3; i < all; i++) await boxes.nth(i).uncheck();
    const kept = await Promise.all([0, 1, 2].map((i) => boxes.nth(i).getAttribute("value")));
    await page.getByLabel("Why too-many-targets does not stand in the way").fill("Only three numbers are the suspects'; the others are dropped.");
    await page.getByLabel(/^Reason/).fill("Only the three numbers the facts tie to the suspects are produced.");
    await page.getByRole("button", { name: "Record decision" }).click();
    await page.waitForURL(/done=(decided|proposed)/);
    const record = page.locator(/done=proposed/.test(page.url()) ? "#pending" : "#handed-over");
    const text = await page.locator("#decision-in-force, #pending").first().innerText();
    for (const t of kept) assert.ok(text.includes(t), `${t} is listed as kept: ${text}`);
    assert.match(text, /3 of \d+/);
    assert.ok(!text.includes("+999 555 1017"), "a dropped target is not listed");
    assert.ok(await record.count() >= 1);
    const res = await page.request.get(`${BASE}/v1/requests/${CASES.targets}`, {
      headers: { authorization: `Bearer ${process.env.CUSTOS_ALICE_TOKEN}` },
    });
    const c = await res.json();
    const d = c.decision ?? c.pending_decision;
    assert.deepEqual(d.narrowed.targets, kept, "the logged decision keeps exactly the checked targets");
  }

  step("mark delivered, then close: the case leaves the queue and stays findable");
  {
    const { page } = alice;
    await page.goto(`${BASE}/console/requests/${CASES.narrow}`);
    await page.getByRole("button", { name: "Mark delivered" }).click();
    await page.waitForURL(/done=delivered/);
    assert.equal(await page.locator("#case-status").innerText(), "Delivered");
    await page.getByRole("button", { name: "Close the case" }).click();
    await page.waitForURL(/done=closed/);
    assert.equal(await page.locator("#case-status").innerText(), "Closed");
    await page.goto(`${BASE}/console/queue?status=closed`);
    assert.equal(await page.getByRole("link", { name: `#${CASES.narrow}`, exact: true }).count(), 1);
  }

  step("phone widths: no page of the console scrolls sideways at 390 and 320 px; axe-core at 390 px");
  {
    const pages = [
      "/console/queue", "/console/queue?status=all&dense=1", "/console/holds", "/console/log",
      "/console/profiles", "/console/profiles/rights-first",
      ...["refuse", "narrow", "second", "hold", "emergency", "gag", "referred", "reclass", "order", "callback", "targets", "clash", "follow"]
        .map((k) => `/console/requests/${CASES[k]}`),
    ];
    for (const width of [390, 320]) {
      // At 320 px a browser in another time zone: local times go beside UTC, and still fit.
      const context = await browser.newContext({
        viewport: { width, height: 800 }, bypassCSP: true, ...(width === 320 ? { timezoneId: "Asia/Kolkata" } : {}),
      });
      const page = await context.newPage();
      await page.goto(`${BASE}/console/sign-in`);
      await page.getByLabel("User name").fill("sam");
      await page.getByLabel("Password").fill(PASSWORD);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.waitForURL(/\/console\/queue/);
      const authority = await (async () => {
        await page.goto(`${BASE}/console/requests/${CASES.callback}`);
        return page.locator("#authority-link").getAttribute("href");
      })();
      for (const path of [...pages, authority]) {
        const resp = await page.goto(`${BASE}${path}`);
        assert.equal(resp.status(), 200, path);
        const over = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        const wide = await page.evaluate(() => [...document.querySelectorAll("body *")]
          .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
          .map((e) => `${e.tagName.toLowerCase()}${e.id ? "#" + e.id : ""}.${e.className}`).slice(0, 6).join(", "));
        assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth),
          `${path} is ${over}px wider than ${width}px: ${wide}`);
        if (width === 390) await axe(page, `${path} at 390px`);
      }
      // The navigation folds behind a button, and opens.
      await page.goto(`${BASE}/console/queue`);
      if (width === 320) {
        assert.match(await page.locator("table.queue").innerText(), /\d\d:\d\d UTC \([^)]*local\)/, "local time beside UTC");
      }
      assert.equal(await page.getByRole("link", { name: "Holds and secrecy" }).isVisible(), false);
      await page.getByRole("button", { name: "Menu" }).click();
      assert.equal(await page.getByRole("link", { name: "Holds and secrecy" }).isVisible(), true);
      assert.equal(await page.getByRole("button", { name: "Sign out" }).isVisible(), true, "Sign out is on screen");
      if (width === 390) {
        await page.screenshot({ path: `${SHOTS}/queue-menu-390.png` });
        await page.goto(`${BASE}/console/requests/${CASES.targets}`);
        await shot(page, "request-targets-390");
      }
      await context.close();
    }
    // Wide screens: the decision panel stays beside the request.
    await alice.page.setViewportSize({ width: 1366, height: 768 });
    await alice.page.goto(`${BASE}/console/requests/${CASES.emergency}`);
    const side = await alice.page.locator(".case-side").evaluate((e) => getComputedStyle(e).position);
    assert.equal(side, "sticky", "the decision panel is sticky beside the request");
    await alice.page.screenshot({ path: `${SHOTS}/request-side-panel.png` });
  }
  step("desk: take a case, see it as yours in the queue, add an internal note");
  {
    const { page } = alice;
    const c = CASES.hold;
    await page.goto(`${BASE}/console/requests/${c}`);
    await page.getByRole("button", { name: /^Take (this case|over from)/ }).click();
    await page.waitForURL(/done=taken/);
    assert.match(await page.locator("#case-assignee").innerText(), /alice/);
    await page.goto(`${BASE}/console/queue?assignee=me`);
    const row = page.locator("table.queue tbody tr").filter({ has: page.getByRole("link", { name: `#${c}`, exact: true }) });
    assert.equal(await row.locator("td.assignee").innerText(), "alice", "the queue shows who has the case");
    await page.goto(`${BASE}/console/requests/${c}`);
    const note = "Called the liaison officer: the court order follows on Monday.";
    await page.getByLabel("Add a note").fill(note);
    await page.getByRole("button", { name: "Add note" }).click();
    await page.waitForURL(/done=noted/);
    const notes = await page.locator("#notes-list").innerText();
    assert.ok(notes.includes(note) && notes.includes("alice"), notes);
    assert.match(notes, /\d\d:\d\d UTC/, "the note's time");
    assert.match(await page.locator("#timeline").innerText(), /Note added/);
    await axe(page, "a request page with a note");
    await shot(page, "request-notes");
  }
  // ── end of issue 16 ───────────────────────────────────────────────────────────────────────

  step("attachments: a file attached through the console is listed, logged and downloaded as a file; a refusal starts from a ground's template");
  {
    const { page } = alice;
    await page.setViewportSize({ width: 1366, height: 768 });
    await page.goto(`${BASE}/console/requests/${CASES.follow}`);
    const section = page.locator("#attachments");
    await section.getByLabel("Kind").selectOption("order");
    const content = "%PDF-1.7 Order of the investigating judge <script>alert(1)</script>";
    await section.getByLabel(/^File/).setInputFiles({ name: "court order.pdf", mimeType: "application/pdf", buffer: Buffer.from(content) });
    await section.getByRole("button", { name: "Attach file" }).click();
    await page.waitForURL(/done=attached/);
    const row = page.locator("#attachment-list tbody tr").filter({ hasText: "court order.pdf" });
    assert.equal(await row.count(), 1, "the file is listed once");
    assert.match(await row.innerText(), /Order[\s\S]*alice/);
    assert.match(await page.locator("#timeline tbody tr").last().innerText(), /attachment\.added[\s\S]*court order\.pdf \(Order/);
    const res = await page.request.get(`${BASE}${await row.getByRole("link").first().getAttribute("href")}`);
    assert.equal(res.status(), 200);
    assert.match(res.headers()["content-disposition"], /^attachment;/, "served as a download, never inline");
    assert.equal(res.headers()["x-content-type-options"], "nosniff");
    assert.equal(await res.text(), content);
    await axe(page, "a request page with an attachment");
    for (const width of [390, 320]) {
      await page.setViewportSize({ width, height: 800 });
      assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth),
        `the attachments fit at ${width}px`);
    }
    await page.setViewportSize({ width: 1366, height: 768 });

    // With the script: "Use this text" fills the reason and checks the ground; nothing is sent.
    await page.getByLabel("Refuse", { exact: true }).check();
    const template = page.locator("#reply-templates .reply-template").first();
    const text = (await template.locator("blockquote").innerText()).trim();
    const ground = await template.getByRole("button").getAttribute("value");
    await page.getByLabel(/^Reason/).fill("");
    await template.getByRole("button", { name: /Use this text/ }).click();
    assert.equal(await page.getByLabel(/^Reason/).inputValue(), text);
    assert.equal(await page.locator(`#grounds input[value="${ground}"]`).isChecked(), true);
    assert.match(page.url(), /done=attached/, "the page was not sent");

    // Without a script: the server sends the form back with the text added, nothing recorded.
    const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, javaScriptEnabled: false });
    const plain = await context.newPage();
    await plain.goto(`${BASE}/console/sign-in`);
    await plain.getByLabel("User name").fill("bob");
    await plain.getByLabel("Password").fill(PASSWORD);
    await plain.getByRole("button", { name: "Sign in" }).click();
    await plain.waitForURL(/\/console\/queue/);
    await plain.goto(`${BASE}/console/requests/${CASES.follow}`);
    const status = await plain.locator("#case-status").innerText();
    await plain.getByLabel("Refuse", { exact: true }).check();
    await plain.getByLabel(/^Reason/).fill("Our own first line.");
    await plain.locator("#reply-templates .reply-template").first().getByRole("button", { name: /Use this text/ }).click();
    await plain.waitForURL(new RegExp(`/console/requests/${CASES.follow}/decision$`));
    assert.equal(await plain.getByLabel(/^Reason/).inputValue(), `Our own first line.\n\n${text}`);
    assert.equal(await plain.getByLabel("Refuse", { exact: true }).isChecked(), true, "the form comes back as sent");
    assert.equal(await plain.locator("#case-status").innerText(), status, "nothing was decided");
    await context.close();
  }

  step("supplement: the queue marks the supplemented case; its page lists what changed");
  {
    const { page } = alice;
    await page.setViewportSize({ width: 1366, height: 768 });
    await page.goto(`${BASE}/console/queue?q=E2E-SUPPLEMENT`);
    const row = page.locator("table.queue tbody tr").filter({
      has: page.getByRole("link", { name: `#${CASES.supplemented}`, exact: true }),
    });
    assert.match(await row.innerText(), /Supplemented/, "the queue marks the case");
    await page.goto(`${BASE}/console/requests/${CASES.supplemented}`);
    const section = await page.locator("#supplement-changes").innerText();
    assert.match(section, /the response deadline restarted then/);
    assert.match(section, /Investigation reference\s+Changed\s+XA\/PPO\/2026\/1187\s+XA\/PPO\/2026\/1187-B/);
    assert.match(section, /Target 2\s+Added\s+—\s+kind: email, value: second-target@mail\.example/);
    await axe(page, "a request page with a supplement's changes");
    await page.locator("#supplement-changes").scrollIntoViewIfNeeded();
    await shot(page, "request-supplement");
    // On a phone the changes become cards and nothing scrolls sideways.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.reload();
    const over = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(over <= 0, `the supplemented case's page scrolls sideways by ${over} px at 390 px`);
    await axe(page, "a request page with a supplement's changes at 390 px");
    await page.setViewportSize({ width: 1366, height: 768 });
  }

  step("sign-out ends the session");
  {
    const { page, context } = alice;
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(/signed-out=1/);
    await page.goto(`${BASE}/console/queue`);
    assert.match(page.url(), /\/console\/sign-in/);
    await context.close();
  }
  // ---- Dialogue moves and the emergency clock (issue 13, desk) ---------------------------
  // The justified emergency leads the queue on its 8-hour clock, marked unverified; a reviewer
  // postpones a case; consults another, whose requester answers (`custos answer`) and then
  // withdraws (`custos withdraw`); the emergency's execution is refused until its authority's
  // confirmation key confirms it (`custos confirm`). CUSTOS_DIALOGUE (JSON): bin, xa_key,
  // duty_key, emergency_sha256, postpone, dialogue.
  {
    const D = JSON.parse(process.env.CUSTOS_DIALOGUE ?? "{}");
    const custos = (cmd, ...args) => execFileSync(D.bin, [cmd, "--server", BASE, ...args], { encoding: "utf8" });

    step("dialogue: the justified emergency leads the queue with its clock, marked unverified");
    const bob = await session("bob");
    const { page } = bob;
    {
      const first = page.locator("table.queue tbody tr").first();
      const text = await first.innerText();
      assert.match(text, new RegExp(`#${CASES.emergency}\\b`), `the emergency comes first: ${text}`);
      assert.match(text, /Emergency: \d+ h \d+ min left/, "its clock, to the minute");
      assert.match(text, /Unverified/);
      assert.match(await first.getAttribute("class"), /emergency-lead/);
      assert.match(await page.getByRole("status").innerText(), /justified emergencies first/);
    }

    step("dialogue: the counter of cases due in under 8 hours lists the emergency, not a case due in days");
    {
      await page.getByRole("link", { name: /Due in under 8 hours/ }).click();
      await page.waitForURL(/due=soon/);
      const rows = await page.locator("table.queue tbody tr").allInnerTexts();
      assert.ok(rows.some((t) => new RegExp(`#${CASES.emergency}\\b`).test(t)), `the emergency is due soon: ${rows}`);
      assert.ok(!rows.some((t) => new RegExp(`#${D.postpone}\\b`).test(t)), `a case due in days is not: ${rows}`);
      await page.goto(`${BASE}/console/queue`);
    }

    step("dialogue: postpone with a reason and a date");
    await page.goto(`${BASE}/console/requests/${D.postpone}`);
    await page.getByLabel(/^Why postpone/).fill("Executing now would alert the suspects of a domestic investigation.");
    await page.getByLabel(/^Postponed until/).fill("2030-03-01T00:00");
    await page.getByRole("button", { name: "Postpone", exact: true }).click();
    await page.waitForURL(/done=postponed/);
    assert.equal(await page.locator("#case-status").innerText(), "Postponed");
    assert.match(await page.locator("#postponed").innerText(), /Postponed until 2030-03-01T00:00:00Z/);

    step("dialogue: consult; the requester answers with `custos answer`; the thread shows");
    await page.goto(`${BASE}/console/requests/${D.dialogue}`);
    await page.getByLabel(/^Question/).fill("Which of the accounts did the ransom note name?");
    await page.getByLabel(/^Answer by/).fill("2030-01-15T00:00");
    await page.getByRole("button", { name: "Consult", exact: true }).click();
    await page.waitForURL(/done=consulted/);
    assert.equal(await page.locator("#case-status").innerText(), "In consultation with the requester");
    const answered = JSON.parse(custos("answer", "--key", D.xa_key, "--case", String(D.dialogue),
      "--request-id", "E2E-DIALOGUE", "--message", "Only the first account; the others are the victims'."));
    assert.equal(answered.consultation.length, 2, "the requester's reply shows the thread");
    await page.reload();
    const thread = await page.locator("ol.thread").innerText();
    assert.match(thread, /bob.*answer by 2030-01-15T00:00:00Z.*Which of the accounts/s);
    assert.match(thread, /The requesting authority.*Only the first account/s);
    await axe(page, "a request page with a consultation thread");

    step("dialogue: the requester withdraws with `custos withdraw`; no decision is offered");
    const withdrawn = JSON.parse(custos("withdraw", "--key", D.xa_key, "--case", String(D.dialogue),
      "--request-id", "E2E-DIALOGUE", "--reason", "The suspect was identified by other means."));
    assert.equal(withdrawn.status, "withdrawn");
    await page.reload();
    assert.equal(await page.locator("#case-status").innerText(), "Withdrawn by the requester");
    for (const form of ["#decide", "#consult", "#postpone"]) {
      assert.equal(await page.locator(form).count(), 0, `no ${form} form on a withdrawn case`);
    }

    step("dialogue: an unverified emergency is not executed; `custos confirm`; then it is");
    await page.goto(`${BASE}/console/requests/${CASES.emergency}`);
    assert.match(await page.locator("#emergency-verification").innerText(), /Not verified/);
    await page.getByLabel("Execute as asked").check();
    await page.getByLabel(/^Reason/).fill("A child's life is at risk; the account is the kidnappers'.");
    const [refused] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith(`/console/requests/${CASES.emergency}/decision`)),
      page.getByRole("button", { name: "Record decision" }).click(),
    ]);
    assert.equal(refused.status(), 409);
    await assert.doesNotReject(page.locator("#refusal", { hasText: "not verified" }).waitFor());
    custos("confirm", "--key", D.duty_key, "--case", String(CASES.emergency),
      "--request-id", "E2E-EMERGENCY", "--sha256", D.emergency_sha256);
    await page.goto(`${BASE}/console/requests/${CASES.emergency}`);
    assert.match(await page.locator("#emergency-verification").innerText(), /^Verified/);
    await page.getByLabel("Execute as asked").check();
    await page.getByLabel(/^Reason/).fill("A child's life is at risk; the account is the kidnappers'.");
    await page.getByRole("button", { name: "Record decision" }).click();
    await page.waitForURL(/done=decided/);
    assert.equal(await page.locator("#case-status").innerText(), "Executing");
    await bob.context.close();
  }
  // ---- end of the dialogue block ----
  // ---- issue 13 §2, call-back (h13-callback): a reviewer records, a supervisor confirms ----
  step("call-back: bob records a call to the directory's contact, sam confirms, the authority's page counts it");
  {
    const bob = await session("bob");
    const { page } = bob;
    await page.goto(`${BASE}/console/requests/${CASES.callback}`);
    assert.match(await page.locator("#emergency-verification").innerText(), /Not verified/);
    assert.match(await page.locator("#callback-contact").innerText(), /XF duty office, \+99 555 0177/);
    await page.locator("#reached").fill("Insp. Vega, duty officer");
    await page.locator('#callback-form input[value="confirmed"]').check();
    await page.getByRole("button", { name: "Record the call-back" }).click();
    await page.waitForURL(/done=callback-recorded/);
    assert.match(await page.locator("#callback-pending").innerText(), /bob called \+99 555 0177 and reached Insp\. Vega/);
    assert.equal(await page.locator("#callback-review-form").count(), 0, "a reviewer cannot confirm");
    await axe(page, "the call-back section");
    await bob.context.close();

    const s = sam.page;
    await s.goto(`${BASE}/console/requests/${CASES.callback}`);
    await s.locator('#callback-review-form input[value="yes"]').check();
    await s.locator("#callback-reason").fill("Matches the duty office's call log.");
    await s.getByRole("button", { name: "Record the review" }).click();
    await s.waitForURL(/done=callback-reviewed/);
    assert.match(await s.locator("#emergency-verification").innerText(), /Verified by call-back: bob reached Insp\. Vega.*confirmed by sam/);
    await s.locator("#authority-link").click();
    await s.waitForURL(/\/console\/authorities\//);
    assert.match(await s.locator("#authority-contact").innerText(), /XF duty office/);
    assert.equal((await s.locator("#count-emergencies").innerText()).trim(), "2");
    assert.equal((await s.locator("#count-signature").innerText()).trim(), "1", "the dialogue block's confirmation");
    assert.equal((await s.locator("#count-callback").innerText()).trim(), "1");
    assert.equal((await s.locator("#count-failed").innerText()).trim(), "0");
    await axe(s, "the authority page");
    await shot(s, "authority");
  }
  // ---- end call-back ----
  // ── Issue 13: the order that must follow an emergency ─────────────────────────────────────
  step("order: a missed order is flagged in the queue and on the page; a reviewer asks for deletion");
  {
    const bob = await session("bob");
    const { page } = bob;
    const row = page.locator("table.queue tbody tr", { hasText: `#${CASES.order}` });
    assert.match(await row.innerText(), /Order missing since/, "the queue flags the missed order");
    await row.getByRole("link", { name: `#${CASES.order}` }).click();
    await assert.doesNotReject(page.locator("#order-missing", { hasText: "Order missing since" }).waitFor());
    await page.getByLabel("Message (the requester reads it)")
      .fill("No order followed the emergency; delete the subscriber records handed over.");
    await page.getByRole("button", { name: "Ask for deletion" }).click();
    await page.waitForURL(/done=deletion-requested/);
    await assert.doesNotReject(page.locator("#deletion-requested", { hasText: "No order followed" }).waitFor());
    assert.equal(await page.locator("#deletion-request").count(), 0, "deletion is asked once");
    await axe(page, "the request page of a missed order");
    await shot(page, "request-order-missed");
    await bob.context.close();
  }
  // ── end of issue 13 ───────────────────────────────────────────────────────────────────────

  // ── Issue 14: the public pages, /transparency and /log (h5-pages) ───────────────────────
  // Anonymous visitors (no sign-in), at 1366 px and 390 px: no script, named tables and charts,
  // axe-core clean, nothing wider than the screen; screenshots transparency.png, public-log.png.
  step("public pages: /transparency and /log without sign-in, accessible at 1366 and 390 px");
  {
    const day = (n) => new Date(Date.now() - n * 86400000).toISOString().slice(0, 10);
    // The elements that stick out of the screen, for the message of a failed width check.
    const widest = (page) => page.evaluate(() => [...document.querySelectorAll("body *")]
      .filter((e) => e.getBoundingClientRect().right > window.innerWidth)
      .map((e) => `${e.tagName.toLowerCase()}${e.id ? "#" + e.id : ""}.${e.className}`).slice(0, 8).join(", "));
    // A range that has ended (up to yesterday), so the node can publish it.
    const range = `from=${day(30)}&to=${day(1)}`;
    for (const width of [1366, 390]) {
      const context = await browser.newContext({ viewport: { width, height: 800 }, bypassCSP: true });
      const page = await context.newPage();
      let resp = await page.goto(`${BASE}/transparency?${range}`);
      assert.equal(resp.status(), 200, await page.content());
      assert.match(resp.headers()["content-security-policy"] ?? "", /default-src 'none'/);
      assert.doesNotMatch(await page.content(), /<script/i, "no script on /transparency");
      assert.match(page.url(), /\/transparency\?/, "no sign-in asked");
      {
        for (const name of ["Requests by requesting state", "Requests by channel", "Decided requests by decision"]) {
          await assert.doesNotReject(page.getByRole("table", { name: new RegExp(`^${name}`) }).waitFor());
          await assert.doesNotReject(page.getByRole("img", { name }).waitFor(), `chart ${name}`);
        }
        assert.ok(await page.locator("svg.chart[role=img] title").count() >= 6, "every breakdown has a chart");
        assert.match(await page.locator("#noise").innerText(), /margin/i, "the noise margin is stated");
        const json = await page.request.get(`${BASE}${await page.getByRole("link", { name: "report.json" }).getAttribute("href")}`);
        assert.equal(json.status(), 200);
        assert.equal((await json.json()).format, "custos.transparency/v1");
      }
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `/transparency is ${overflow}px wider than ${width}px: ${await widest(page)}`);
      await axe(page, `/transparency at ${width}px`);
      if (width === 1366) await page.screenshot({ path: `${SHOTS}/transparency.png`, fullPage: true });
      // Bad dates: a readable page with the status, never a blank one.
      resp = await page.goto(`${BASE}/transparency?from=2026-02-30&to=${day(1)}`);
      assert.equal(resp.status(), 400);
      assert.match(await page.getByRole("alert").innerText(), /`from`.*YYYY-MM-DD/s);

      await page.getByRole("link", { name: "Public log" }).first().click();
      await page.waitForURL(/\/log$/);
      assert.doesNotMatch(await page.content(), /<script/i, "no script on /log");
      assert.match(await page.locator("#checkpoint-signature").innerText(), /signature on this checkpoint verifies/);
      assert.equal((await page.locator("#verifier").innerText()).trim(), process.env.CUSTOS_VERIFIER);
      const command = (await page.locator("#verify-command").innerText()).trim();
      assert.equal(command, `custos log verify --server ${BASE} --vkey "${process.env.CUSTOS_VERIFIER}" --full`);
      await assert.doesNotReject(page.getByRole("table", { name: "Signature lines of the served checkpoint" }).waitFor());
      assert.match(await page.locator("#witnesses").innerText(), /No witness yet/);
      for (const href of ["/log/checkpoint", "/v1/log/verifier", "/transparency"]) {
        assert.ok(await page.locator(`a[href="${href}"]`).count() >= 1, `/log links ${href}`);
      }
      const tile = await page.locator('a[href^="/log/tile/"]').first().getAttribute("href");
      assert.equal((await page.request.get(`${BASE}${tile}`)).status(), 200, `${tile} is served`);
      // The log may grow between the page and the fetch (a batch still finishing): read both
      // again, a few times, until they agree; a page that never shows the served one fails.
      let served = "", shown = "";
      for (let i = 0; i < 10; i++) {
        shown = (await page.locator("#checkpoint").innerText()).trim();
        served = (await (await page.request.get(`${BASE}/log/checkpoint`)).text()).trim();
        if (shown === served) break;
        await page.reload();
      }
      assert.equal(shown, served, "the page shows the served checkpoint");
      const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(wide <= 0, `/log is ${wide}px wider than ${width}px: ${await widest(page)}`);
      await axe(page, `/log at ${width}px`);
      if (width === 1366) await page.screenshot({ path: `${SHOTS}/public-log.png`, fullPage: true });
      await context.close();
    }
    // The console's sign-in page links both.
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${BASE}/console/sign-in`);
    for (const href of ["/transparency", "/log"]) {
      assert.equal(await page.locator(`footer a[href="${href}"]`).count(), 1, `sign-in footer links ${href}`);
    }
    await context.close();
  }
  // ── end of issue 14's public pages ────────────────────────────────────────────────────────

  console.log("all console steps passed");
} catch (e) {
  console.error(`FAILED at step: ${current}\n${e.stack ?? e}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
