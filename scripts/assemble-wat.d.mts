/** The .wasm bytes of a .wat source file. */
export function assembleWat(file: string): Promise<Uint8Array>;
/** The TypeScript module that embeds `bytes` (what src/backend/simd/NAME.wasm.ts holds). */
export function wasmModuleSource(name: string, bytes: Uint8Array): string;
