# `make help`: the Makefile's `target: ... ## [Group] what it does` lines, listed group by group
# in the order of the `groups` variable (space-separated), a blank line between groups.
/^[a-z-]+:.*## / {
    target = substr($0, 1, index($0, ":") - 1)
    text = substr($0, index($0, "## ") + 3)
    group = "Other"
    if (match(text, /^\[[A-Za-z]+\] /)) {
        group = substr(text, 2, RLENGTH - 3)
        text = substr(text, RLENGTH + 1)
    }
    listed[group] = listed[group] sprintf("  make %-17s %s\n", target, text)
}
END {
    count = split(groups, order, " ")
    for (i = 1; i <= count; i++) {
        if (order[i] in listed) {
            printf "%s%s:\n%s", (shown++ ? "\n" : ""), order[i], listed[order[i]]
        }
    }
}
