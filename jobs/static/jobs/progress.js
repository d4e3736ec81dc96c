// Keeps a deletion job's page current while it is open: polls the job's progress and updates
// the bar and the counts; reloads the page when the job moves to another state.
"use strict";
(function () {
    const box = document.querySelector("[data-progress-url]");
    if (!box || !box.dataset.polls) {
        return;
    }
    const url = box.dataset.progressUrl;
    const shownState = box.dataset.state;
    const every = 2000;

    function set(selector, value) {
        document.querySelectorAll(selector).forEach(function (element) {
            element.textContent = value === null || value === undefined ? "—" : String(value);
        });
    }

    function show(data) {
        if (data.state !== shownState) {
            window.location.reload();
            return false;
        }
        const bar = document.getElementById("job-progress-bar");
        if (!bar) {
            return data.polls;
        }
        if (data.state === "previewing") {
            bar.max = data.total;
            bar.value = data.resolved;
        } else {
            bar.max = data.to_delete;
            bar.value = data.done;
        }
        ["resolved", "total", "done", "to_delete", "percent", "per_minute", "time_left"].forEach(
            function (name) {
                set('[data-field="' + name + '"]', data[name]);
            }
        );
        Object.keys(data.preview).forEach(function (key) {
            set('[data-preview-count="' + key + '"]', data.preview[key]);
        });
        Object.keys(data.results).forEach(function (key) {
            set('[data-result-count="' + key + '"]', data.results[key]);
        });
        return data.polls;
    }

    function poll() {
        fetch(url, {credentials: "same-origin", headers: {Accept: "application/json"}})
            .then(function (response) {
                if (!response.ok || response.redirected) {
                    throw new Error("progress unavailable: " + response.status);
                }
                return response.json();
            })
            .then(function (data) {
                if (show(data)) {
                    window.setTimeout(poll, every);
                }
            })
            .catch(function () {
                // Signed out or the server is away: the Reload link still works.
            });
    }

    window.setTimeout(poll, every);
})();
