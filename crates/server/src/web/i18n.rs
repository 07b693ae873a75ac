//! The web pages' two languages. Every text is one field of `Text`, given in Japanese and
//! English side by side in one table, so a text missing in either language does not compile.
//! Templates read `c.t.<field>`; askama checks the field exists when it compiles them.
//! Messages from the services (an error's detail) stay in English, as the API gives them.

use axum::http::HeaderMap;

/// A page's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Ja,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "ja" => Some(Lang::Ja),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    pub fn text(self) -> &'static Text {
        match self {
            Lang::Ja => &JA,
            Lang::En => &EN,
        }
    }

    /// The language a browser prefers among ours (`Accept-Language`, by quality, then order);
    /// Japanese when it names neither or sends nothing: the ISAC's members are Japanese.
    pub fn negotiate(headers: &HeaderMap) -> Lang {
        let Some(value) = headers
            .get(axum::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
        else {
            return Lang::Ja;
        };
        let mut best: Option<(f32, usize, Lang)> = None;
        for (i, item) in value.split(',').enumerate() {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let primary = tag.split('-').next().unwrap_or("");
            let Some(lang) = Lang::parse(primary) else {
                continue;
            };
            if q <= 0.0 {
                continue;
            }
            if best.is_none_or(|(bq, bi, _)| q > bq || (q == bq && i < bi)) {
                best = Some((q, i, lang));
            }
        }
        best.map_or(Lang::Ja, |(_, _, l)| l)
    }
}

macro_rules! texts {
    ($($key:ident: $ja:expr, $en:expr;)*) => {
        /// Every text of the pages, in one language.
        pub struct Text {
            $(pub $key: &'static str,)*
        }
        pub static JA: Text = Text { $($key: $ja,)* };
        pub static EN: Text = Text { $($key: $en,)* };
    };
}

texts! {
    // Navigation and page titles.
    nav_dashboard: "ダッシュボード", "Dashboard";
    nav_feeds: "フィード", "Feeds";
    nav_search: "検索", "Search";
    nav_register: "登録", "Register";
    nav_tokens: "トークン", "Tokens";
    nav_ranges: "IPレンジと通知", "IP ranges & notices";
    nav_applied: "適用中のブロックリスト", "Applied block lists";
    nav_exports: "エクスポート", "Exports";
    nav_admin: "管理", "Administration";
    title_login: "ログイン", "Log in";
    title_register: "脅威情報の登録", "Register indicators";
    title_preview: "登録内容の確認", "Check before registering";
    title_status: "登録結果", "Registration result";
    title_error: "エラー", "Error";
    login: "ログイン", "Log in";
    logout: "ログアウト", "Log out";
    back_home: "ダッシュボードへ戻る", "Back to the dashboard";
    login_failed: "ユーザー名またはパスワードが違います。", "Wrong user name or password.";
    login_expired: "フォームの有効期限が切れました。もう一度ログインしてください。", "The form expired: please log in again.";
    forged: "フォームを確認できませんでした。ページを再読み込みしてやり直してください。", "The form could not be verified: reload the page and try again.";
    // Common words.
    feeds: "フィード", "Feeds";
    feed: "フィード", "Feed";
    severity: "重要度", "Severity";
    volume: "量", "Volume";
    default_tlp: "既定のTLP", "Default TLP";
    last_7_days: "過去7日間", "Last 7 days";
    rights: "権限", "Rights";
    read: "閲覧", "read";
    write: "投稿", "write";
    latest: "最新の情報", "Latest";
    charts: "統計", "Statistics";
    chart_daily: "C2・フィッシングサイトの日次件数", "C2 and phishing sites per day";
    chart_lead: "共有によるリードタイム", "Lead time gained by sharing";
    nothing: "該当するものはありません。", "Nothing to show.";
    added: "追加日時", "Added";
    type_: "種類", "Type";
    name: "名前", "Name";
    confidence: "確度", "Confidence";
    corroboration: "報告組織数", "Reported by (organisations)";
    any: "すべて", "any";
    filter: "絞り込み", "Filter";
    older: "さらに古いもの", "Older";
    more: "次へ", "More";
    search_hint: "IPアドレス、CIDR、ドメイン、URL、ハッシュ", "IP address, CIDR, domain, URL, hash";
    object: "オブジェクト", "Object";
    matched: "一致した値", "Matched value";
    // Object page.
    content: "内容", "Content";
    versions: "版", "Versions";
    version: "版", "Version";
    relationships: "関係", "Relationships";
    sightings: "目撃報告", "Sightings";
    referenced_by: "この情報を参照しているもの", "Referred to by";
    received_from: "連携元", "Received from (federation)";
    false_positives: "誤検知の報告", "False-positive reports";
    seen_here: "当組織でも観測", "Seen here";
    false_positive: "誤検知", "False positive";
    note: "メモ（任意）", "Note (optional)";
    sighting_recorded: "目撃報告を登録しました。", "Your sighting is recorded.";
    false_positive_recorded: "誤検知の報告を登録しました。", "Your false-positive report is recorded.";
    tlp_clear: "公開してよい情報です。", "May be shared without restriction.";
    tlp_green: "コミュニティ内で共有できます（公開不可）。", "Shareable within the community, not publicly.";
    tlp_amber: "受領組織内と、その顧客の保護に必要な範囲でのみ共有できます。", "Only within the recipient's organisation and its clients, as needed to protect them.";
    tlp_amber_strict: "受領組織内でのみ共有できます。", "Only within the recipient's organisation.";
    tlp_red: "指名された受領者のみ。転送禁止です。", "For the named recipients only; do not pass on.";
    // Registration.
    register_help: "値を1行に1つ入力するか、CSVファイルを選んでください。種類（IPアドレス、CIDR、ドメイン、URL、メールアドレス、ハッシュ）は自動で判定します。登録前に確認画面を表示します。", "Enter one value per line, or choose a CSV file. The kind (IP address, CIDR, domain, URL, e-mail address, hash) is detected. You will see a preview before anything is stored.";
    values: "値", "Values";
    csv_file: "CSVファイル", "CSV file";
    csv_help: "CSVの1行目に列名（value, kind, confidence, valid_until, description）を書けます。列名がなければ、1列目が値、2列目が説明です。", "A CSV may start with a row naming its columns (value, kind, confidence, valid_until, description); without one, the first column is the value and the second the description.";
    feed_default: "フィードの既定", "feed's default";
    valid_until: "有効期限", "Valid until";
    description: "説明", "Description";
    preview: "確認", "Preview";
    preview_has_errors: "エラーのある行があります。修正するまで何も登録されません。", "Some lines have errors. Nothing is stored until they are fixed.";
    preview_ok: "次の内容で登録できます。", "Ready to register.";
    line: "行", "Line";
    input: "入力", "Input";
    kind: "種別", "Kind";
    pattern_or_error: "パターンまたはエラー", "Pattern or error";
    register_n: "登録する", "Register";
    start_over: "最初からやり直す", "Start over";
    stored: "登録", "Stored";
    already: "登録済み", "Already present";
    refused: "拒否", "Refused";
    // Member pages.
    title_tokens: "APIトークン", "API tokens";
    token_once: "新しいトークンです。この画面でしか表示されません。今すぐ控えてください。", "Your new token. It is shown only now: copy it.";
    user_name: "ユーザー名", "User";
    password: "パスワード", "Password";
    read_only: "読み取り専用", "Read only";
    created: "作成日時", "Created";
    expires: "有効期限", "Expires";
    state: "状態", "State";
    revoke: "失効", "Revoke";
    new_token: "トークンの発行", "New token";
    expires_days: "有効日数", "Days valid";
    create: "作成", "Create";
    live: "有効", "live";
    revoked: "失効済み", "revoked";
    expired: "期限切れ", "expired";
    never: "無期限", "never";
    token_revoked: "トークンを失効させました。", "The token is revoked.";
    title_ranges: "IPレンジと通知", "IP ranges and notifications";
    my_ranges: "登録済みのIPレンジ・ドメイン", "Registered IP ranges and domains";
    org: "組織", "Organisation";
    value: "値", "Value";
    valid: "有効期間", "Valid";
    remove: "削除", "Remove";
    add: "追加", "Add";
    network_or_domain: "IPレンジ（CIDR）またはドメイン", "IP range (CIDR) or domain";
    notifications: "通知（NOTICE）", "Notifications (NOTICE)";
    campaign: "キャンペーン", "Campaign";
    port: "ポート", "Port";
    finding: "検出内容", "Finding";
    last_seen: "最終観測", "Last seen";
    times_seen: "観測回数", "Times seen";
    set_state: "状態を変更", "Set state";
    update: "更新", "Update";
    range_added: "登録しました。", "Registered.";
    range_removed: "削除しました。", "Removed.";
    findings_updated: "通知の状態を更新しました。", "The notifications are updated.";
    title_applied: "適用中のブロックリスト", "Applied block lists";
    applied_help: "自組織が実際に適用しているブロックリストを共有すると、各値を何組織が適用しているかが他の会員にも分かります。", "Share the block list your organisation really applies: members then see how many organisations apply each value.";
    entries: "件数", "Entries";
    uploaded: "登録日時", "Uploaded";
    upload_applied: "ブロックリストの登録", "Upload a block list";
    upload: "登録", "Upload";
    applied_uploaded: "ブロックリストを登録しました。", "The block list is stored.";
    title_exports: "ブロックリストのダウンロード", "Block list downloads";
    exports_help: "ファイアウォール、DNSリゾルバ、IDSがそのまま読み込める形式です。", "Formats that firewalls, DNS resolvers and IDSes load as they are.";
    download: "ダウンロード", "Download";
    // Administration.
    orgs: "組織", "Organisations";
    users: "ユーザー", "Users";
    groups: "トラストグループ", "Trust groups";
    feed_rights: "フィードの権限", "Feed rights";
    audit_log: "監査ログ", "Audit log";
    sector: "業種", "Sector";
    country: "国", "Country";
    anonymous: "匿名投稿", "Anonymous";
    new_org: "組織の追加", "New organisation";
    role: "ロール", "Role";
    new_user: "ユーザーの追加", "New user";
    members: "メンバー", "Members";
    new_group: "トラストグループの作成", "New trust group";
    membership: "メンバーの追加・削除", "Membership";
    group: "グループ", "Group";
    grants: "付与された権限", "Grants";
    grant: "権限を付与", "Grant";
    grantee: "付与先", "Grantee";
    action: "操作", "Action";
    since: "開始日", "Since";
    at: "日時", "At";
    source: "接続元", "Source";
    count: "件数", "Count";
    detail: "詳細", "Detail";
    done: "完了しました。", "Done.";
    federation: "他ISAC・外部フィード連携", "Federation";
    direction: "方向", "Direction";
    collection: "コレクション", "Collection";
    cursor: "取得・送信済みの位置", "Cursor";
    last_run: "最終実行", "Last run";
    last_success: "最終成功", "Last success";
    last_error: "最終エラー", "Last error";
    peers_help: "連携先の追加・同期は isac-relay federation add / sync、または /api/v1/federation/peers で行います。", "Add and sync peers with isac-relay federation add / sync, or through /api/v1/federation/peers.";
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            axum::http::header::ACCEPT_LANGUAGE,
            HeaderValue::from_str(value).unwrap(),
        );
        h
    }

    #[test]
    fn browsers_get_the_language_they_prefer() {
        assert_eq!(Lang::negotiate(&HeaderMap::new()), Lang::Ja);
        assert_eq!(Lang::negotiate(&with("ja-JP,ja;q=0.9,en;q=0.8")), Lang::Ja);
        assert_eq!(Lang::negotiate(&with("en-US,en;q=0.9")), Lang::En);
        assert_eq!(
            Lang::negotiate(&with("fr-FR, en;q=0.5, ja;q=0.4")),
            Lang::En
        );
        assert_eq!(Lang::negotiate(&with("en;q=0.2, ja;q=0.8")), Lang::Ja);
        assert_eq!(Lang::negotiate(&with("de")), Lang::Ja);
        assert_eq!(Lang::negotiate(&with("en;q=0")), Lang::Ja);
    }
}
