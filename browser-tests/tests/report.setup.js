// Makes the reports the report tests open (setup.js), once, before them.
"use strict";
const { test } = require("@playwright/test");
const makeReports = require("./setup");

test("harness writes the library's and the fixtures' reports", async () => {
  await makeReports();
});
