//! A pipeline whose source is a git repository at a revision: the observer clones it,
//! checks out exactly that revision and records the commit in the provenance.

mod common;

use chainseal_factory::Error;
use chainseal_model::dsse;
use chainseal_model::statement::Statement;

fn run(f: &common::Fixture, revision: &str) -> Result<chainseal_factory::RunReport, Error> {
    let repo = f.path().join("repo");
    if !repo.exists() {
        common::two_commit_repo(&repo);
    }
    let y = format!(
        "name: g\nsource: {{git: repo, revision: {revision}}}\nsteps:\n  - name: build\n    inputs: [source/hello.txt]\n    command: [cp, source/hello.txt, /out/]\n    outputs: [hello.txt]\n"
    );
    f.run_yaml(&y)
}

#[test]
fn git_source_is_checked_out_at_the_revision_and_its_commit_recorded() {
    let f = common::Fixture::new(&[]);
    let r = run(&f, "v1.0.0").expect("git source at a tag");
    let repo = std::fs::canonicalize(f.path().join("repo")).unwrap();
    let commit = common::git(&repo, &["rev-parse", "v1.0.0^{commit}"]);
    let head = common::git(&repo, &["rev-parse", "HEAD"]);
    assert_ne!(commit, head, "the tag is not the branch head");
    // The artefact is built from the tagged content, not the newer head.
    assert_eq!(
        std::fs::read(f.out().join("artifacts/hello.txt")).unwrap(),
        b"v1\n"
    );
    let env = dsse::Envelope::from_json(&std::fs::read(&r.provenance).unwrap()).unwrap();
    let st = Statement::from_json(&env.payload).unwrap();
    let src = &st.predicate.unwrap()["buildDefinition"]["externalParameters"]["source"];
    // The revision is recorded as the full ref git resolved it to, beside the commit.
    assert_eq!(
        src["uri"],
        format!("git+file://{}@refs/tags/v1.0.0", repo.display())
    );
    assert_eq!(src["ref"], "refs/tags/v1.0.0");
    assert_eq!(src["digest"]["gitCommit"], commit);
    // The repository metadata is not part of the source tree the steps see.
    let link = dsse::Envelope::from_json(&std::fs::read(&r.steps[0].link).unwrap()).unwrap();
    let link = Statement::from_json(&link.payload).unwrap();
    let names: Vec<&str> = link.subject.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, vec!["source/hello.txt"]);
}

#[test]
fn unknown_revision_fails_naming_it_before_any_step_runs() {
    let f = common::Fixture::new(&[]);
    let r = run(&f, "no-such-tag");
    match r {
        Err(Error::Source { reason }) => assert!(reason.contains("no-such-tag"), "{reason}"),
        other => panic!("expected a source error, got {other:?}"),
    }
    assert!(!f.out().join("artifacts/hello.txt").exists());
}

fn source_of(r: &chainseal_factory::RunReport) -> serde_json::Value {
    let env = dsse::Envelope::from_json(&std::fs::read(&r.provenance).unwrap()).unwrap();
    let st = Statement::from_json(&env.payload).unwrap();
    st.predicate.unwrap()["buildDefinition"]["externalParameters"]["source"].clone()
}

#[test]
fn a_branch_is_recorded_as_refs_heads_and_a_commit_without_any_ref() {
    let f = common::Fixture::new(&[]);
    let r = run(&f, "main").expect("git source at a branch");
    let repo = std::fs::canonicalize(f.path().join("repo")).unwrap();
    let head = common::git(&repo, &["rev-parse", "refs/heads/main"]);
    let src = source_of(&r);
    assert_eq!(src["ref"], "refs/heads/main");
    assert_eq!(src["digest"]["gitCommit"], head);
    assert_eq!(
        src["uri"],
        format!("git+file://{}@refs/heads/main", repo.display())
    );
    // A full commit id: built exactly, recorded with no ref (it is neither tag nor branch).
    let first = common::git(&repo, &["rev-parse", "v1.0.0^{commit}"]);
    let r = run(&f, &first).expect("git source at a commit");
    let src = source_of(&r);
    assert!(src.get("ref").is_none(), "{src}");
    assert_eq!(src["digest"]["gitCommit"], first);
    assert_eq!(
        std::fs::read(f.out().join("artifacts/hello.txt")).unwrap(),
        b"v1\n"
    );
}

#[test]
fn a_name_that_is_both_a_branch_and_a_tag_or_a_short_commit_is_refused() {
    let f = common::Fixture::new(&[]);
    run(&f, "refs/tags/v1.0.0").expect("positive control: a full tag ref builds");
    let repo = f.path().join("repo");
    common::git(&repo, &["branch", "v1.0.0", "main"]);
    match run(&f, "v1.0.0") {
        Err(Error::Source { reason }) => {
            assert!(reason.contains("both a branch and a tag"), "{reason}")
        }
        other => panic!("expected an ambiguity error, got {other:?}"),
    }
    let short = common::git(&repo, &["rev-parse", "--short", "main"]);
    match run(&f, &short) {
        Err(Error::Source { reason }) => assert!(reason.contains(&short), "{reason}"),
        other => panic!("expected a short commit id to be refused, got {other:?}"),
    }
}
