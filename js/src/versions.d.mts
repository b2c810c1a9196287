// The module build.mjs generates: the content hashes (16 hex digits) of the files the shim
// loads, by file name, in the copy the demo server sends; empty in the npm package.
declare const versions: Record<string, string>;
export default versions;
