'use strict';
// The compiled addon, or null when it was not built (no compiler at install time): callers then skip trimming.
let addon = null;
try {
  addon = require('./build/Release/malloc_trim.node');
} catch {
  addon = null;
}
module.exports = addon;
