//! Pull request reviews, review comments and the threads they form: the part of a pull request
//! that holds them and the model operations on it. A root comment opens a thread; a reply joins
//! its root's thread. Every comment belongs to a review: a standalone comment or a reply gets a
//! review of its own (state `COMMENTED`, empty body), as on GitHub, which is why two replies in
//! one thread carry different `pull_request_review_id`s.

use std::time::SystemTime;

use crate::state::{Actor, Issue, Model};
use crate::util::graphql_id;

#[derive(Debug, Clone)]
pub(crate) struct Review {
    pub id: u64,
    pub author: Actor,
    /// `APPROVED` | `CHANGES_REQUESTED` | `COMMENTED` | `PENDING`.
    pub state: String,
    pub body: String,
    pub commit_id: String,
    /// `None` while the review is pending.
    pub submitted: Option<SystemTime>,
    pub comment_ids: Vec<u64>,
}

#[derive(Debug, Clone)]
pub(crate) struct ReviewComment {
    pub id: u64,
    pub review_id: u64,
    pub thread_id: u64,
    /// The thread's root comment, for replies.
    pub in_reply_to: Option<u64>,
    pub body: String,
    pub anchor: Anchor,
    pub author: Actor,
    pub commit_id: String,
    pub created: SystemTime,
    pub updated: SystemTime,
}

#[derive(Debug, Clone)]
pub(crate) struct Thread {
    pub id: u64,
    /// Oldest first; the first one is the root.
    pub comment_ids: Vec<u64>,
    /// `Some` while resolved: who resolved it.
    pub resolved_by: Option<Actor>,
}

impl Thread {
    /// `PRRT_…`, the id GraphQL knows the thread by (threads have no REST form).
    pub fn node_id(&self) -> String {
        graphql_id("PRRT", "PullRequestReviewThread", self.id)
    }
}

/// Where a comment sits on the diff. Replies copy their root's.
#[derive(Debug, Clone)]
pub(crate) struct Anchor {
    pub path: String,
    /// `None` for a comment on the whole file (`subject_type: file`).
    pub line: Option<u64>,
    /// `RIGHT` | `LEFT`.
    pub side: String,
    /// The hunk header through the commented line (see `crate::diff`).
    pub diff_hunk: String,
    /// The deprecated diff position (lines below the file's first `@@`).
    pub position: Option<u64>,
}

/// A comment to add, already anchored.
#[derive(Debug, Clone)]
pub(crate) struct NewComment {
    pub anchor: Anchor,
    pub body: String,
}

/// The reviews part of a pull request.
#[derive(Debug, Clone, Default)]
pub(crate) struct PullReviews {
    /// In creation order (ids grow).
    pub reviews: Vec<Review>,
    pub comments: Vec<ReviewComment>,
    pub threads: Vec<Thread>,
}

impl PullReviews {
    pub fn review(&self, id: u64) -> Option<&Review> {
        self.reviews.iter().find(|r| r.id == id)
    }

    pub fn comment(&self, id: u64) -> Option<&ReviewComment> {
        self.comments.iter().find(|c| c.id == id)
    }

    pub fn thread(&self, id: u64) -> Option<&Thread> {
        self.threads.iter().find(|t| t.id == id)
    }

    /// Pending reviews (and their comments) are seen by their author only, as on GitHub.
    pub fn visible_to(&self, review_id: u64, viewer: &Actor) -> bool {
        self.review(review_id)
            .is_some_and(|r| r.state != "PENDING" || r.author == *viewer)
    }

    /// The pending review `actor` has on this pull request, if any (GitHub allows one).
    pub fn pending_of(&self, actor: &Actor) -> Option<u64> {
        self.reviews
            .iter()
            .find(|r| r.state == "PENDING" && r.author == *actor)
            .map(|r| r.id)
    }

    /// The `review_comments` count of the pull request shape (pending ones are not counted).
    pub fn submitted_comments(&self) -> usize {
        self.comments
            .iter()
            .filter(|c| {
                self.review(c.review_id)
                    .is_some_and(|r| r.state != "PENDING")
            })
            .count()
    }

    fn push_review(
        &mut self,
        id: u64,
        author: &Actor,
        state: &str,
        body: &str,
        commit_id: &str,
        now: SystemTime,
    ) {
        self.reviews.push(Review {
            id,
            author: author.clone(),
            state: state.to_owned(),
            body: body.to_owned(),
            commit_id: commit_id.to_owned(),
            submitted: (state != "PENDING").then_some(now),
            comment_ids: Vec::new(),
        });
    }

    /// Adds a comment to its review; `opens_thread` makes it the root of a new thread (its
    /// `thread_id`), else it joins that thread.
    fn push_comment(&mut self, c: ReviewComment, opens_thread: bool) {
        if let Some(r) = self.reviews.iter_mut().find(|r| r.id == c.review_id) {
            r.comment_ids.push(c.id);
        }
        if opens_thread {
            self.threads.push(Thread {
                id: c.thread_id,
                comment_ids: vec![c.id],
                resolved_by: None,
            });
        } else if let Some(t) = self.threads.iter_mut().find(|t| t.id == c.thread_id) {
            t.comment_ids.push(c.id);
        }
        self.comments.push(c);
    }
}

/// Who writes, what and on which commit: the parts every new comment shares.
pub(crate) struct Writer<'a> {
    pub author: &'a Actor,
    pub commit_id: &'a str,
    pub now: SystemTime,
}

impl Model {
    fn pull_reviews_mut(&mut self, key: &str, number: u64) -> Option<&mut PullReviews> {
        let issue = self.repos.get_mut(key)?.issues.get_mut(&number)?;
        Some(&mut issue.pull.as_mut()?.review)
    }

    /// Adds a review with its comments (each opens a thread). Returns the review id and the
    /// comment ids; `None` if there is no such pull request.
    pub fn add_review(
        &mut self,
        key: &str,
        number: u64,
        w: &Writer<'_>,
        state: &str,
        body: &str,
        comments: Vec<NewComment>,
    ) -> Option<(u64, Vec<u64>)> {
        let review_id = self.next_review;
        let first_comment = self.next_review_comment;
        let first_thread = self.next_thread;
        let rv = self.pull_reviews_mut(key, number)?;
        rv.push_review(review_id, w.author, state, body, w.commit_id, w.now);
        let mut ids = Vec::new();
        for (i, c) in comments.into_iter().enumerate() {
            let id = first_comment + i as u64;
            rv.push_comment(
                ReviewComment {
                    id,
                    review_id,
                    thread_id: first_thread + i as u64,
                    in_reply_to: None,
                    body: c.body,
                    anchor: c.anchor,
                    author: w.author.clone(),
                    commit_id: w.commit_id.to_owned(),
                    created: w.now,
                    updated: w.now,
                },
                true,
            );
            ids.push(id);
        }
        self.next_review += 1;
        self.next_review_comment += ids.len() as u64;
        self.next_thread += ids.len() as u64;
        Some((review_id, ids))
    }

    /// A standalone comment: it opens a thread and gets a `COMMENTED` review of its own.
    pub fn add_review_comment(
        &mut self,
        key: &str,
        number: u64,
        w: &Writer<'_>,
        comment: NewComment,
    ) -> Option<u64> {
        self.add_review(key, number, w, "COMMENTED", "", vec![comment])
            .and_then(|(_, ids)| ids.first().copied())
    }

    /// A reply in the thread of comment `to` (a root or a reply: either way it joins the
    /// thread, and `in_reply_to` names the root). `None` if `to` is not on this pull request.
    pub fn add_review_reply(
        &mut self,
        key: &str,
        number: u64,
        w: &Writer<'_>,
        to: u64,
        body: &str,
    ) -> Option<u64> {
        let review_id = self.next_review;
        let id = self.next_review_comment;
        let rv = self.pull_reviews_mut(key, number)?;
        let target = rv.comment(to)?;
        let thread = rv.thread(target.thread_id)?;
        let root_id = *thread.comment_ids.first()?;
        let root = rv.comment(root_id)?;
        let reply = ReviewComment {
            id,
            review_id,
            thread_id: thread.id,
            in_reply_to: Some(root_id),
            body: body.to_owned(),
            anchor: root.anchor.clone(),
            author: w.author.clone(),
            commit_id: w.commit_id.to_owned(),
            created: w.now,
            updated: w.now,
        };
        rv.push_review(review_id, w.author, "COMMENTED", "", w.commit_id, w.now);
        rv.push_comment(reply, false);
        self.next_review += 1;
        self.next_review_comment += 1;
        Some(id)
    }

    /// A review comment of repository `key`, with the pull request it is on.
    pub fn review_comment_in(&self, key: &str, id: u64) -> Option<(&Issue, &ReviewComment)> {
        self.repo(key)?.issues.values().find_map(|i| {
            let c = i.pull.as_ref()?.review.comment(id)?;
            Some((i, c))
        })
    }

    /// Finds a thread by its GraphQL id: (repository key, pull request number, thread id).
    pub fn thread_by_node_id(&self, node_id: &str) -> Option<(String, u64, u64)> {
        self.repos.iter().find_map(|(key, r)| {
            r.issues.values().find_map(|i| {
                let t = i
                    .pull
                    .as_ref()?
                    .review
                    .threads
                    .iter()
                    .find(|t| t.node_id() == node_id)?;
                Some((key.clone(), i.number, t.id))
            })
        })
    }

    /// Resolves (`Some(actor)`) or unresolves (`None`) a thread.
    pub fn set_thread_resolution(
        &mut self,
        key: &str,
        number: u64,
        thread_id: u64,
        by: Option<Actor>,
    ) -> Option<()> {
        let rv = self.pull_reviews_mut(key, number)?;
        let t = rv.threads.iter_mut().find(|t| t.id == thread_id)?;
        t.resolved_by = by;
        Some(())
    }
}
