//! The claims file: each claim of `shared/design/claims.md` by id, with the
//! scenarios, stacks, metric, direction and level that decide it, resolved
//! into [`crate::analysis::verdict::ClaimSpec`]s.

use std::path::{Path, PathBuf};

use super::raw::{RawClaim, RawClaims};
use super::{ScenarioError, Source, read};
use crate::analysis::verdict::{ClaimKind, ClaimSpec, LevelChoice, Metric, VerdictRules};

/// A resolved claims file.
#[derive(Clone, Debug)]
pub struct Claims {
    /// The file.
    pub file: PathBuf,
    /// The verdict rules (minimum effect, confidence).
    pub rules: VerdictRules,
    /// The claims, in file order.
    pub claims: Vec<ClaimSpec>,
}

/// Reads and resolves a claims file.
pub fn load_claims(file: &Path) -> Result<Claims, ScenarioError> {
    let text = read(file)?;
    parse_claims(file, &text)
}

/// Resolves a claims file from its text.
pub fn parse_claims(file: &Path, text: &str) -> Result<Claims, ScenarioError> {
    let src = Source { file, text };
    let raw: RawClaims = src.parse()?;
    let mut rules = VerdictRules::default();
    let effect = |m: &toml::Spanned<String>| {
        let s = m.get_ref().trim();
        let v = match s.strip_suffix('%') {
            Some(p) => p.trim().parse::<f64>().map(|v| v / 100.0),
            None => s.parse::<f64>(),
        };
        match v {
            Ok(v) if (0.0..1.0).contains(&v) => Ok(v),
            _ => Err(src.error_span(m, format!("`{s}` is not a minimum effect (e.g. \"5%\")"))),
        }
    };
    if let Some(m) = &raw.min_effect {
        rules.min_effect = effect(m)?;
    }
    for (metric, m) in &raw.min_effects {
        if let Err(e) = crate::analysis::verdict::Metric::parse(metric, Some("t")) {
            return Err(src.error_span(m, e.to_string()));
        }
        rules.min_effects.insert(metric.clone(), effect(m)?);
    }
    if let Some(c) = &raw.confidence {
        let v = *c.get_ref();
        if !(v > 0.0 && v < 1.0) {
            return Err(src.error_span(c, "must be strictly between 0 and 1, e.g. 0.95"));
        }
        rules.confidence = v;
    }
    if let Some(r) = raw.resamples {
        rules.resamples = r.clamp(100, 1_000_000);
    }
    let mut claims: Vec<ClaimSpec> = Vec::new();
    for c in &raw.claims {
        let spec = claim(&src, c)?;
        if claims.iter().any(|x| x.id == spec.id) {
            return Err(src.error_span(&c.id, format!("claim `{}` is defined twice", spec.id)));
        }
        claims.push(spec);
    }
    Ok(Claims {
        file: file.to_path_buf(),
        rules,
        claims,
    })
}

fn claim(src: &Source<'_>, c: &RawClaim) -> Result<ClaimSpec, ScenarioError> {
    let id = c.id.get_ref().trim().to_string();
    if id.is_empty() {
        return Err(src.error_span(&c.id, "a claim id must not be empty"));
    }
    if c.metrics.get_ref().is_empty() {
        return Err(src.error_span(&c.metrics, "at least one metric is needed"));
    }
    let mut metrics = Vec::new();
    for m in c.metrics.get_ref() {
        metrics.push(
            Metric::parse(m, c.template.as_deref())
                .map_err(|e| src.error_span(&c.metrics, e.to_string()))?,
        );
    }
    if c.scenarios.get_ref().is_empty() {
        return Err(src.error_span(&c.scenarios, "at least one scenario is needed"));
    }
    if c.favoured.get_ref().is_empty() {
        return Err(src.error_span(&c.favoured, "at least one favoured target is needed"));
    }
    let level = match &c.level {
        None => LevelChoice::Highest,
        Some(v) => match v.get_ref() {
            toml::Value::String(s) if s == "highest" => LevelChoice::Highest,
            toml::Value::String(s) if s == "lowest" => LevelChoice::Lowest,
            toml::Value::Integer(i) if *i > 0 => LevelChoice::Exactly(*i as f64),
            toml::Value::Float(f) if *f > 0.0 => LevelChoice::Exactly(*f),
            other => {
                return Err(src.error_span(
                    v,
                    format!("`{other}` is not a level (expected \"highest\", \"lowest\" or a positive number)"),
                ));
            }
        },
    };
    let kind_name = c.kind.as_ref().map_or("pairs", |k| k.get_ref().as_str());
    let kind = match kind_name {
        "pairs" => {
            if c.others.is_empty() && c.requires_target_cpus == 0 {
                return Err(src.error_span(
                    &c.favoured,
                    "kind = \"pairs\" needs `others = [..]` to compare with",
                ));
            }
            ClaimKind::Pairs
        }
        "within" => {
            let baseline = c.baseline.clone().ok_or_else(|| {
                src.error_span(&c.id, "kind = \"within\" needs `baseline = \"SCENARIO\"`")
            })?;
            let increase = match c.direction.as_ref().map(|d| (d, d.get_ref().as_str())) {
                None | Some((_, "increase")) => true,
                Some((_, "decrease")) => false,
                Some((d, other)) => {
                    return Err(src.error_span(
                        d,
                        format!(
                            "`{other}` is not a direction (expected \"increase\" or \"decrease\")"
                        ),
                    ));
                }
            };
            ClaimKind::Within { baseline, increase }
        }
        "scaling" => ClaimKind::Scaling,
        other => {
            let k = c.kind.as_ref().expect("set when not the default");
            return Err(src.error_span(
                k,
                format!(
                    "`{other}` is not a claim kind (expected \"pairs\", \"within\" or \"scaling\")"
                ),
            ));
        }
    };
    Ok(ClaimSpec {
        id,
        quote: c.quote.trim().to_string(),
        kind,
        metrics,
        scenarios: c.scenarios.get_ref().clone(),
        level,
        favoured: c.favoured.get_ref().clone(),
        others: c.others.clone(),
        parity_holds: c.parity_holds,
        requires_target_cpus: c.requires_target_cpus,
        note: c.note.as_ref().map(|n| n.trim().to_string()),
    })
}
