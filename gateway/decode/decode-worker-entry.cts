// The file piscina loads in each decode worker: CommonJS, so that piscina's require() of
// it stays in CommonJS. require() of the ESM worker itself took Node 20.19+'s synchronous
// require(esm) path, which once aborted a whole CI run (V8 fatal "IsGraphAsync must be
// used on an instantiated module", stack in piscina's worker.js getHandler). This loads it
// with an ordinary import(); piscina awaits the exported promise's function.
module.exports = import('./decode.worker.js').then((worker) => worker.default);
