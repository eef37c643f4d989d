#!/usr/bin/env node
// prebuildify drives node-gyp; espcap builds with cmake-js. prebuildify calls
// this instead (`--node-gyp`) with node-gyp's arguments, which do not apply.
'use strict';
require('./build-addon.js').buildFromSource();
