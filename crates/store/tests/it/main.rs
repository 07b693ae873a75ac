//! The storage conformance suite: every engine must pass the same tests. `suite` holds them,
//! written against `dyn Store`; `suite_tests!` names each of them once, and each engine module
//! instantiates that one list on a fresh store of its own, so an engine cannot miss a test.

mod engines_agree;
mod postgres;
mod suite;
mod upgrade;

/// Instantiates `$engine!` with the name of every conformance test in `suite`.
#[macro_export]
macro_rules! suite_tests {
    ($engine:ident) => {
        $engine!(
            admin_bootstrap_and_token_lookup,
            feeds_are_unique_and_found_by_id_or_name,
            versions_keep_first_and_last_whatever_the_order,
            duplicates_store_nothing_new,
            date_added_is_strictly_increasing_under_concurrency,
            queries_page_by_cursor_and_filter,
            delete_remarks_first_and_last,
            status_is_kept,
            closed_store_refuses_work,
            observables_are_indexed_per_current_version,
            tokens_expire_and_are_revoked,
            visibility_in_queries_agrees_with_the_policy,
            changes_are_checked_and_audited,
            feeds_share_one_cursor,
            corroboration_counts_distinct_posters,
            catalogue_settings_round_trip,
            exports_follow_current_versions,
            applied_lists_replace_and_expire,
            allowlist_and_assets_round_trip,
            campaigns_and_findings,
            metrics_from_a_known_history,
            references_and_backward_pages,
            peers_and_their_progress,
            addresses_inside_a_network,
            leases_hold_one_job_for_one_holder,
        );
    };
}

mod sqlite {
    use std::sync::Arc;

    use relay_core::Store;
    use store::SqliteStore;

    /// A fresh SQLite store in its own temporary directory.
    pub struct Fresh {
        pub store: Arc<dyn Store>,
        pub dir: tempfile::TempDir,
    }

    pub fn fresh() -> Fresh {
        let dir = tempfile::tempdir().unwrap();
        Fresh {
            store: Arc::new(SqliteStore::open(dir.path()).unwrap()),
            dir,
        }
    }

    macro_rules! on_sqlite {
        ($($name:ident),* $(,)?) => {$(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let f = fresh();
                crate::suite::$name(f.store.clone()).await;
            }
        )*};
    }

    crate::suite_tests!(on_sqlite);

    /// The audit table refuses updates and deletes, whoever opens the file.
    #[tokio::test]
    async fn the_audit_log_is_append_only() {
        let f = fresh();
        crate::suite::seed(&f.store).await;
        f.store.close().await;
        let conn = rusqlite::Connection::open(f.dir.path().join(store::DB_FILE)).unwrap();
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM audit", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
        for sql in ["UPDATE audit SET actor = 'x'", "DELETE FROM audit"] {
            let err = conn.execute(sql, []).unwrap_err().to_string();
            assert!(err.contains("append-only"), "{sql}: {err}");
        }
    }

    #[tokio::test]
    async fn reopening_keeps_data_and_token_key() {
        let f = fresh();
        let key = f.store.token_key().await.unwrap();
        crate::suite::seed(&f.store).await;
        f.store.close().await;
        let again: Arc<dyn Store> = Arc::new(SqliteStore::open(f.dir.path()).unwrap());
        assert_eq!(again.token_key().await.unwrap(), key);
        assert!(again.find_feed("TEST").await.unwrap().is_some());
    }

    #[tokio::test]
    async fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        SqliteStore::open(dir.path()).unwrap();
        let conn = rusqlite::Connection::open(dir.path().join("relay.db")).unwrap();
        conn.execute_batch("PRAGMA user_version = 999").unwrap();
        drop(conn);
        let err = SqliteStore::open(dir.path()).err().expect("refused");
        assert!(err.to_string().contains("newer"), "{err}");
    }
}
