//! `vivid guide WORKFLOW`: the operator guides shipped in `assets/guides/`.

use anyhow::Result;

/// (workflow, guide), embedded so the binary carries them.
pub const GUIDES: &[(&str, &str)] = &[
    ("crisis", include_str!("../../assets/guides/crisis.md")),
    ("content", include_str!("../../assets/guides/content.md")),
    (
        "experiments",
        include_str!("../../assets/guides/experiments.md"),
    ),
    ("journey", include_str!("../../assets/guides/journey.md")),
    ("privacy", include_str!("../../assets/guides/privacy.md")),
];

pub fn run(workflow: Option<&str>) -> Result<()> {
    match workflow {
        None => {
            println!(
                "Operator guides: {}",
                GUIDES
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            println!("Read one with: vivid guide NAME");
            Ok(())
        }
        Some(name) => match GUIDES
            .iter()
            .find(|(n, _)| *n == name || n.trim_end_matches('s') == name)
        {
            Some((_, text)) => {
                print!("{text}");
                Ok(())
            }
            None => Err(vivid_core::Error::not_found(format!(
                "no guide for {name:?}; guides: {}",
                GUIDES
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .into()),
        },
    }
}
