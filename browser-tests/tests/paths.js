// Where the reports and the screenshots go.
"use strict";
const path = require("node:path");

const ROOT = path.resolve(__dirname, "..", "..");
const REPORTS = path.resolve(__dirname, "..", "reports");
module.exports = {
  ROOT,
  REPORTS,
  LIBRARY: path.join(REPORTS, "library", "report.html"),
  FIXTURES: path.join(REPORTS, "fixtures", "report.html"),
  ARTIFACTS: path.resolve(__dirname, "..", "artifacts"),
};
