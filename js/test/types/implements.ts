// The published declarations (src/vocafuse.d.ts, src/vocafuse-recorder.d.ts) hold for the
// code: each declared export exists in the module with a type the declaration accepts,
// the types tsc reads from the sources' JSDoc (make lint: tsc -p js/tsconfig.json).
import type * as Declared from '../../src/vocafuse.js';
import type * as DeclaredElement from '../../src/vocafuse-recorder.js';
import * as shim from '../../src/vocafuse.mjs';
import * as element from '../../src/vocafuse-recorder.mjs';

export const shimAsDeclared: typeof Declared = shim;
export const elementAsDeclared: typeof DeclaredElement = element;

// An instance made by the code is one the declarations describe, member by member.
type Instance<C extends abstract new (...args: never) => unknown> = InstanceType<C>;
export const sdk: Declared.VocaFuse = {} as Instance<typeof shim.VocaFuse>;
export const error: Declared.VocaFuseError = {} as Instance<typeof shim.VocaFuseError>;
export const recorderElement: DeclaredElement.VocaFuseRecorderElement = {} as Instance<typeof element.VocaFuseRecorderElement>;
export const control: Declared.VoiceNoteControl = {} as ReturnType<Instance<typeof shim.VocaFuse>['addVoiceNote']>;
