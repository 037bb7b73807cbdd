import protobuf from 'protobufjs/minimal.js';

// Without Long, protobufjs decodes 64-bit fields to plain numbers: exact up to 2^53, which
// covers millisecond timestamps and any realistic seq, and avoids an object per field.
// This must run before the generated module loads: it bakes `Long` into its prototype
// defaults at load time, so an absent field would otherwise read as a Long object.
protobuf.util.Long = undefined as unknown as typeof protobuf.util.Long;
protobuf.configure();
