"use strict";
// The confirm page: the delete button waits for the exact name or id, and is pressed once.
// The server checks both again; without this script the page works as a plain form.
{
    const form = document.getElementById("delete-form");
    if (form) {
        const typed = form.querySelector("#id_confirmation");
        const button = form.querySelector("#delete-submit");
        const accepted = JSON.parse(button.dataset.accepted);
        const update = () => {
            button.disabled = !accepted.includes(typed.value.trim());
        };
        typed.addEventListener("input", update);
        update();
        form.addEventListener("submit", (event) => {
            if (form.dataset.submitted) {
                event.preventDefault();
                return;
            }
            form.dataset.submitted = "true";
            button.disabled = true;
            button.textContent = "Deleting…";
        });
    }
}
