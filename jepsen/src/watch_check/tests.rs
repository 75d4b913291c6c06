use super::*;

fn put(key: &str, value: &str, prev: Option<&str>) -> Event {
    Event {
        key: key.into(),
        event_type: EventType::Put,
        value: Some(value.into()),
        prev_value: prev.map(String::from),
    }
}

fn delete(key: &str, prev: &str) -> Event {
    Event {
        key: key.into(),
        event_type: EventType::Delete,
        value: None,
        prev_value: Some(prev.into()),
    }
}

/// Revisions 2..=6; revision 3 is a two-key transaction; "other/x" lies outside "k/".
fn store() -> Vec<RevisionEvents> {
    let revisions = [
        (2, vec![put("k/a", "1", None)]),
        (3, vec![put("k/b", "1", None), put("k/c", "1", None)]),
        (4, vec![put("k/a", "2", Some("1"))]),
        (5, vec![delete("k/b", "1")]),
        (6, vec![put("other/x", "9", None)]),
    ];
    revisions
        .into_iter()
        .map(|(revision, events)| RevisionEvents { revision, events })
        .collect()
}

/// The event as the store applied it, with prev_kv only when requested.
fn got(revision: i64, key: &str, prev_kv: bool) -> WatchEvent {
    let mut event = store()
        .into_iter()
        .find(|r| r.revision == revision)
        .and_then(|r| r.events.into_iter().find(|e| e.key == key))
        .expect("event exists in the test store");
    if !prev_kv {
        event.prev_value = None;
    }
    WatchEvent { revision, event }
}

fn watcher(prev_kv: bool, responses: Vec<Vec<WatchEvent>>) -> Watcher {
    Watcher {
        id: 7,
        range: KeyRange::Prefix("k/".into()),
        start_revision: 2,
        prev_kv,
        responses,
        resumptions: vec![],
        until_revision: None,
    }
}

/// One response per revision of the `k/` prefix, as a correct server sends them.
fn clean(prev_kv: bool) -> Vec<Vec<WatchEvent>> {
    vec![
        vec![got(2, "k/a", prev_kv)],
        vec![got(3, "k/b", prev_kv), got(3, "k/c", prev_kv)],
        vec![got(4, "k/a", prev_kv), got(5, "k/b", prev_kv)],
    ]
}

fn anomalies(w: Watcher) -> Vec<(i64, AnomalyKind)> {
    check_watchers(&store(), &[w])
        .into_iter()
        .map(|a| {
            assert_eq!(a.watcher, 7);
            (a.revision, a.kind)
        })
        .collect()
}

#[test]
fn clean_streams_pass() {
    assert_eq!(anomalies(watcher(false, clean(false))), vec![]);
    assert_eq!(anomalies(watcher(true, clean(true))), vec![]);
    let single_key = Watcher {
        range: KeyRange::Key("k/a".into()),
        start_revision: 3,
        responses: vec![vec![got(4, "k/a", false)]],
        ..watcher(false, vec![])
    };
    assert_eq!(anomalies(single_key), vec![]);
}

#[test]
fn gap_is_reported() {
    let mut responses = clean(false);
    responses[1].clear();
    assert_eq!(
        anomalies(watcher(false, responses)),
        vec![(3, AnomalyKind::Missing), (3, AnomalyKind::Missing)]
    );
}

#[test]
fn missing_tail_is_reported_until_the_end() {
    let mut responses = clean(false);
    responses.pop();
    let found = anomalies(watcher(false, responses));
    assert_eq!(
        found,
        vec![(4, AnomalyKind::Missing), (5, AnomalyKind::Missing)]
    );
}

#[test]
fn duplicate_is_reported() {
    let mut responses = clean(false);
    responses.push(vec![got(4, "k/a", false)]);
    assert_eq!(
        anomalies(watcher(false, responses)),
        vec![(4, AnomalyKind::Duplicate)]
    );
}

#[test]
fn reordering_is_reported() {
    let responses = vec![
        vec![got(2, "k/a", false)],
        vec![got(4, "k/a", false)],
        vec![got(3, "k/b", false), got(3, "k/c", false)],
        vec![got(5, "k/b", false)],
    ];
    let found = anomalies(watcher(false, responses));
    assert_eq!(
        found,
        vec![(3, AnomalyKind::OutOfOrder), (3, AnomalyKind::OutOfOrder)]
    );
    // Within a revision, position order counts too.
    let swapped = vec![
        vec![got(2, "k/a", false)],
        vec![got(3, "k/c", false), got(3, "k/b", false)],
        vec![got(4, "k/a", false), got(5, "k/b", false)],
    ];
    assert_eq!(
        anomalies(watcher(false, swapped)),
        vec![(3, AnomalyKind::OutOfOrder)]
    );
}

#[test]
fn revision_split_over_two_responses_is_reported() {
    let responses = vec![
        vec![got(2, "k/a", false), got(3, "k/b", false)],
        vec![got(3, "k/c", false)],
        vec![got(4, "k/a", false), got(5, "k/b", false)],
    ];
    assert_eq!(
        anomalies(watcher(false, responses)),
        vec![(3, AnomalyKind::SplitRevision(vec![0, 1]))]
    );
}

#[test]
fn wrong_prev_kv_is_reported() {
    let mut responses = clean(true);
    responses[2][0].event.prev_value = Some("stale".into());
    let expected = AnomalyKind::WrongPrevKv {
        expected: Some("1".into()),
        got: Some("stale".into()),
    };
    assert_eq!(anomalies(watcher(true, responses)), vec![(4, expected)]);
    // prev_kv sent although not requested.
    let unrequested = AnomalyKind::WrongPrevKv {
        expected: None,
        got: Some("1".into()),
    };
    let mut responses = clean(false);
    responses[2][0].event.prev_value = Some("1".into());
    assert_eq!(anomalies(watcher(false, responses)), vec![(4, unrequested)]);
}

#[test]
fn phantom_wrong_and_out_of_range_events_are_reported() {
    let mut responses = clean(false);
    let mut wrong = got(4, "k/a", false);
    wrong.event.value = Some("nope".into());
    responses[2][0] = wrong;
    responses.push(vec![got(6, "other/x", false)]);
    let mut phantom = got(2, "k/a", false);
    phantom.revision = 9;
    responses.push(vec![phantom]);
    assert_eq!(
        anomalies(watcher(false, responses)),
        vec![
            (4, AnomalyKind::WrongEvent),
            (6, AnomalyKind::OutOfRange),
            (9, AnomalyKind::Phantom),
        ]
    );
}

#[test]
fn events_before_the_start_revision_are_reported() {
    let w = Watcher {
        start_revision: 3,
        ..watcher(false, clean(false))
    };
    assert_eq!(anomalies(w), vec![(2, AnomalyKind::BeforeStart)]);
}

#[test]
fn resumption_from_last_seen_plus_one_is_complete() {
    let mut w = watcher(false, clean(false));
    w.resumptions = vec![Resumption {
        at_response: 2,
        from_revision: 4,
    }];
    assert_eq!(anomalies(w.clone()), vec![]);
    // Resuming from an earlier revision legitimately replays revision 3.
    w.resumptions[0].from_revision = 3;
    w.responses.insert(2, clean(false)[1].clone());
    assert_eq!(anomalies(w), vec![]);
}

#[test]
fn resumption_gaps_chosen_by_the_client_are_excused_but_server_gaps_are_not() {
    let mut w = watcher(
        false,
        vec![clean(false)[0].clone(), vec![got(5, "k/b", false)]],
    );
    w.resumptions = vec![Resumption {
        at_response: 1,
        from_revision: 5,
    }];
    assert_eq!(anomalies(w.clone()), vec![]);
    w.resumptions[0].from_revision = 4;
    assert_eq!(anomalies(w), vec![(4, AnomalyKind::Missing)]);
}

#[test]
fn until_revision_bounds_completeness() {
    let mut responses = clean(false);
    responses.pop();
    let w = Watcher {
        until_revision: Some(3),
        ..watcher(false, responses)
    };
    assert_eq!(anomalies(w), vec![]);
}

#[test]
fn key_ranges() {
    let range = KeyRange::Range {
        start: "b".into(),
        end: Some("d".into()),
    };
    assert!(range.contains("b") && range.contains("c/x") && !range.contains("d"));
    assert!(!range.contains("a"));
    let open = KeyRange::Range {
        start: "b".into(),
        end: None,
    };
    assert!(open.contains("zzz") && !open.contains("a"));
    assert!(KeyRange::Prefix(String::new()).contains("anything"));
}

#[test]
fn a_watcher_that_ended_before_its_start_owes_nothing() {
    // Canceled (e.g. compacted) at revision 3, then clipped to a history starting at 5.
    let w = Watcher {
        start_revision: 5,
        until_revision: Some(3),
        ..watcher(false, vec![])
    };
    assert_eq!(anomalies(w), vec![]);
    let w = Watcher {
        start_revision: 4,
        until_revision: Some(4),
        ..watcher(false, vec![])
    };
    assert_eq!(anomalies(w), vec![(4, AnomalyKind::Missing)]);
}
