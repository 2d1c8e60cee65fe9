//! `vivid guide WORKFLOW`: each workflow's operator guide (shipped in
//! `assets/guides/`, embedded through the workflow list).

use anyhow::Result;
use vivid_core::workflow;

pub fn run(name: Option<&str>) -> Result<()> {
    let names = workflow::names().join(", ");
    match name {
        None => {
            println!("Operator guides: {names}");
            println!("Read one with: vivid guide NAME");
            Ok(())
        }
        Some(name) => match workflow::all()
            .iter()
            .find(|w| w.name() == name || w.name().trim_end_matches('s') == name)
        {
            Some(w) => {
                print!("{}", w.guide());
                Ok(())
            }
            None => Err(vivid_core::Error::not_found(format!(
                "no guide for {name:?}; guides: {names}"
            ))
            .into()),
        },
    }
}
