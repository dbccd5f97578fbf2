//! Reading a scenario file into a [`Scenario`]: its requests (bodies,
//! checks), its `[load]` section (model, levels, arrival, limits) and its
//! timings, every error naming the file, line and key.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use http::Method;

use super::raw::{RawExpect, RawLoad, RawRequest, RawScenario};
use super::spec::*;
use super::threshold::Threshold;
use super::{ScenarioError, Source, parse_duration, read};
use crate::load::{BodyCheck, Check, LoadModel, RequestTemplate};
use crate::results::schema::Arrival;

/// Applies a `warmup` value (and, with `auto`, a `warmup_max`, else the
/// default) to a scenario's warm-up: fixed, or at least
/// [`AUTO_WARMUP_MIN`] and until steady.
pub(crate) fn set_warmup(
    src: &Source<'_>,
    warmup: &toml::Spanned<String>,
    max: Option<&toml::Spanned<String>>,
    min_out: &mut Duration,
    max_out: &mut Option<Duration>,
) -> Result<(), ScenarioError> {
    match super::parse_warmup(src, warmup)? {
        Some(fixed) => {
            if let Some(m) = max {
                return Err(src.error_span(m, "needs warmup = \"auto\""));
            }
            *min_out = fixed;
            *max_out = None;
        }
        None => {
            let longest = match max {
                Some(m) => parse_duration(src, m)?,
                None => DEFAULT_WARMUP_MAX,
            };
            *min_out = AUTO_WARMUP_MIN.min(longest);
            *max_out = Some(longest);
        }
    }
    Ok(())
}

/// Reads and resolves a scenario file. Body files are read relative to it.
pub fn load_scenario(file: &Path) -> Result<Scenario, ScenarioError> {
    let text = read(file)?;
    parse_scenario(file, &text)
}

/// Resolves a scenario from its text (`file` names it in errors and anchors `body_file`).
pub fn parse_scenario(file: &Path, text: &str) -> Result<Scenario, ScenarioError> {
    let src = Source { file, text };
    let raw: RawScenario = src.parse()?;
    let name = raw.name.get_ref().trim().to_string();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(src.error_span(
            &raw.name,
            format!("`{name}` is not a scenario name (letters, digits, `-` and `_` only)"),
        ));
    }
    if raw.requests.is_empty() {
        return Err(src.error_at(None, Some("request"), "at least one [[request]] is needed"));
    }
    let dir = file.parent().unwrap_or(Path::new("."));
    let mut templates = Vec::new();
    for r in &raw.requests {
        templates.push(request(&src, dir, r)?);
    }
    let mut names: Vec<&str> = Vec::new();
    for (t, r) in templates.iter().zip(&raw.requests) {
        if names.contains(&t.name.as_str()) {
            return Err(src.error_span(
                &r.path,
                format!(
                    "two requests are named `{}`: give them distinct `name`s",
                    t.name
                ),
            ));
        }
        names.push(&t.name);
    }

    let (sweep, arrival, max_connections, idle_ping, keepalive) = load(&src, &raw.load)?;
    let dur = |v: &Option<toml::Spanned<String>>, default: Duration, zero_ok: bool| match v {
        None => Ok(default),
        Some(s) => {
            let d = parse_duration(&src, s)?;
            if d.is_zero() && !zero_ok {
                return Err(src.error_span(s, "must be above zero"));
            }
            Ok(d)
        }
    };
    let (mut warmup, mut warmup_max) = (DEFAULT_WARMUP, None);
    if let Some(w) = &raw.warmup {
        set_warmup(
            &src,
            w,
            raw.warmup_max.as_ref(),
            &mut warmup,
            &mut warmup_max,
        )?;
    } else if let Some(m) = &raw.warmup_max {
        return Err(src.error_span(m, "needs warmup = \"auto\""));
    }
    let duration = dur(&raw.duration, DEFAULT_DURATION, false)?;
    let max_duration = match &raw.max_duration {
        None => DEFAULT_MAX_DURATION.max(duration),
        Some(m) => {
            let d = parse_duration(&src, m)?;
            if d < duration {
                return Err(src.error_span(m, "is shorter than `duration`"));
            }
            d
        }
    };
    let timeout = dur(&raw.timeout, DEFAULT_TIMEOUT, false)?;
    let repetitions = match &raw.repetitions {
        None => 3,
        Some(r) if *r.get_ref() == 0 || *r.get_ref() > 1000 => {
            return Err(src.error_span(r, "must be from 1 to 1000"));
        }
        Some(r) => *r.get_ref(),
    };
    let mut thresholds = Vec::new();
    for t in &raw.thresholds {
        thresholds
            .push(Threshold::parse(t.get_ref()).map_err(|e| src.error_span(t, e.to_string()))?);
    }
    Ok(Scenario {
        name,
        description: raw.description.trim().to_string(),
        file: file.to_path_buf(),
        templates,
        sweep,
        arrival,
        max_connections,
        warmup,
        warmup_max,
        duration,
        max_duration,
        timeout,
        repetitions,
        idle_ping,
        keepalive,
        thresholds,
    })
}

fn request(src: &Source<'_>, dir: &Path, r: &RawRequest) -> Result<RequestTemplate, ScenarioError> {
    let method = match &r.method {
        None => Method::GET,
        Some(m) => Method::from_bytes(m.get_ref().trim().to_ascii_uppercase().as_bytes())
            .map_err(|_| src.error_span(m, format!("`{}` is not an HTTP method", m.get_ref())))?,
    };
    let body = match &r.body_file {
        None => Bytes::new(),
        Some(f) => {
            let path = dir.join(f.get_ref());
            let bytes = std::fs::read(&path).map_err(|e| {
                src.error_span(f, format!("cannot read body file {}: {e}", path.display()))
            })?;
            Bytes::from(bytes)
        }
    };
    let path = r.path.get_ref();
    let mut t = RequestTemplate::new(method, path, body)
        .map_err(|e| src.error_span(&r.path, e.to_string()))?;
    if let Some(n) = &r.name {
        t.name = n.clone();
    }
    if let Some(w) = &r.weight {
        if *w.get_ref() == 0 {
            return Err(src.error_span(w, "a weight must be at least 1"));
        }
        t.weight = *w.get_ref();
    }
    for h in &r.headers {
        t.add_header(h.get_ref())
            .map_err(|e| src.error_span(h, e.to_string()))?;
    }
    if !t.body.is_empty()
        && !t
            .headers
            .iter()
            .any(|(n, _)| n == http::header::CONTENT_TYPE)
    {
        // A JSON body file gets its content type unless the scenario says otherwise.
        if r.body_file
            .as_ref()
            .is_some_and(|f| f.get_ref().ends_with(".json"))
        {
            t.add_header("Content-Type: application/json")
                .map_err(|e| src.error_span(&r.path, e.to_string()))?;
        }
    }
    t.stream = r.stream;
    t.check = match &r.expect {
        None => Check::default(),
        Some(e) => expect(src, r, e)?,
    };
    Ok(t)
}

fn expect(src: &Source<'_>, r: &RawRequest, e: &RawExpect) -> Result<Check, ScenarioError> {
    let status = e.status.unwrap_or(200);
    if !(100..=599).contains(&status) {
        return Err(src.error_span(
            &r.path,
            format!("expect.status {status} is not an HTTP status"),
        ));
    }
    let mut bodies = Vec::new();
    if let Some(j) = &e.json {
        let table = j.get_ref();
        if table.len() != 1 {
            return Err(src.error_span(
                j,
                "expect.json takes exactly one `\"/json/pointer\" = value` pair",
            ));
        }
        let (pointer, value) = table.iter().next().expect("one entry");
        if !(pointer.is_empty() || pointer.starts_with('/')) {
            return Err(src.error_span(
                j,
                format!(
                    "`{pointer}` is not a JSON pointer (it must start with `/`, e.g. \"/value\")"
                ),
            ));
        }
        let value = serde_json::to_value(value)
            .map_err(|err| src.error_span(j, format!("expected value is not JSON: {err}")))?;
        bodies.push(BodyCheck::JsonField {
            pointer: pointer.clone(),
            value,
        });
    }
    if let Some(c) = &e.contains {
        bodies.push(BodyCheck::Contains(c.clone()));
    }
    if let Some(eq) = &e.equals {
        bodies.push(BodyCheck::Equals(Bytes::from(eq.clone())));
    }
    if let Some(n) = e.sse_events {
        bodies.push(BodyCheck::SseEvents(n));
    }
    if bodies.len() > 1 {
        return Err(src.error_span(
            &r.path,
            "expect: give at most one of json, contains, equals, sse_events",
        ));
    }
    Ok(Check {
        status,
        body: bodies.pop().unwrap_or(BodyCheck::Any),
    })
}

type LoadParts = (Sweep, Arrival, usize, Option<Duration>, bool);

fn load(src: &Source<'_>, l: &toml::Spanned<RawLoad>) -> Result<LoadParts, ScenarioError> {
    let raw = l.get_ref();
    let model = raw.model.get_ref().as_str();
    let arrival = match raw.arrival.as_ref().map(|a| (a, a.get_ref().as_str())) {
        None | Some((_, "constant")) => Arrival::Constant,
        Some((_, "poisson")) => Arrival::Poisson,
        Some((a, other)) => {
            return Err(src.error_span(
                a,
                format!("`{other}` is not an arrival (expected \"constant\" or \"poisson\")"),
            ));
        }
    };
    let max_connections = match &raw.max_connections {
        None => DEFAULT_MAX_CONNECTIONS,
        Some(m) if *m.get_ref() == 0 || *m.get_ref() > MAX_LEVEL_CONNECTIONS => {
            return Err(src.error_span(m, format!("must be from 1 to {MAX_LEVEL_CONNECTIONS}")));
        }
        Some(m) => *m.get_ref(),
    };
    let nonempty =
        |v: &toml::Spanned<Vec<usize>>, what: &str| -> Result<Vec<usize>, ScenarioError> {
            if v.get_ref().is_empty() {
                return Err(src.error_span(v, format!("{what}: at least one level is needed")));
            }
            if let Some(bad) = v.get_ref().iter().find(|c| **c > MAX_LEVEL_CONNECTIONS) {
                return Err(
                    src.error_span(v, format!("{what}: {bad} is above {MAX_LEVEL_CONNECTIONS}"))
                );
            }
            Ok(v.get_ref().clone())
        };
    let active: Sweep = match model {
        "closed" => {
            if let Some(r) = &raw.rates {
                return Err(src.error_span(
                    r,
                    "`rates` is for model = \"open\"; a closed loop takes `concurrency`",
                ));
            }
            let c = raw.concurrency.as_ref().ok_or_else(|| {
                src.error_span(&raw.model, "model = \"closed\" needs `concurrency = [..]`")
            })?;
            let cs = nonempty(c, "concurrency")?;
            if cs.contains(&0) {
                return Err(src.error_span(c, "a concurrency level must be at least 1"));
            }
            Sweep::Concurrency(cs)
        }
        "open" => {
            if let Some(c) = &raw.concurrency {
                return Err(src.error_span(c, "`concurrency` is for model = \"closed\"; an open loop takes `rates` (and `max_connections`)"));
            }
            let r = raw.rates.as_ref().ok_or_else(|| {
                src.error_span(
                    &raw.model,
                    "model = \"open\" needs `rates = [..]` (requests per second)",
                )
            })?;
            if r.get_ref().is_empty() {
                return Err(src.error_span(r, "at least one rate is needed"));
            }
            if let Some(bad) = r
                .get_ref()
                .iter()
                .find(|v| !(v.is_finite() && **v > 0.0 && **v <= 10_000_000.0))
            {
                return Err(src.error_span(
                    r,
                    format!("rates must be positive and at most 10000000, got {bad}"),
                ));
            }
            Sweep::Rates(r.get_ref().clone())
        }
        other => {
            return Err(src.error_span(
                &raw.model,
                format!("`{other}` is not a load model (expected \"closed\" or \"open\")"),
            ));
        }
    };
    let active = match (&raw.connections, active) {
        (None, active) => active,
        (Some(c), _) if raw.idle_connections.is_some() => {
            return Err(src.error_span(
                c,
                "`connections` and `idle_connections` are two different sweeps: use one",
            ));
        }
        (Some(c), _) if raw.max_connections.is_some() => {
            return Err(src.error_span(
                c,
                "with `connections` (the sweep), each level is the pool: leave out `max_connections`",
            ));
        }
        (Some(c), Sweep::Rates(rs)) if rs.len() == 1 => {
            let counts = nonempty(c, "connections")?;
            if counts.contains(&0) {
                return Err(src.error_span(c, "a connection count must be at least 1"));
            }
            Sweep::Connections {
                rate: rs[0],
                counts,
            }
        }
        (Some(c), _) => {
            return Err(src.error_span(
                c,
                "`connections` (the sweep) is for model = \"open\" with a single rate",
            ));
        }
    };
    let sweep = match &raw.idle_connections {
        None => active,
        Some(idle) => {
            let counts = nonempty(idle, "idle_connections")?;
            let single = match &active {
                Sweep::Concurrency(cs) if cs.len() == 1 => {
                    Some(LoadModel::Closed { connections: cs[0] })
                }
                Sweep::Rates(rs) if rs.len() == 1 => Some(LoadModel::Open {
                    rate: rs[0],
                    arrival,
                    max_connections,
                }),
                _ => None,
            };
            match single {
                Some(active) => Sweep::Idle { active, counts },
                None => {
                    return Err(src.error_span(
                        idle,
                        "with idle_connections (the sweep), the active load must be one level: a single concurrency or rate",
                    ));
                }
            }
        }
    };
    let idle_ping = match &raw.idle_ping {
        None => None,
        Some(p) => {
            let d = parse_duration(src, p)?;
            if d < Duration::from_millis(10) {
                return Err(src.error_span(p, "must be at least 10ms"));
            }
            Some(d)
        }
    };
    Ok((
        sweep,
        arrival,
        max_connections,
        idle_ping,
        raw.keepalive.unwrap_or(true),
    ))
}
