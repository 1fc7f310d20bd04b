// The part of bun:ffi the netns helper uses (the helper runs only inside the
// bun-compiled executable; Node never loads it).
declare module 'bun:ffi' {
  export const FFIType: { i32: number; u32: number; i64: number; u64: number; ptr: number };
  export function dlopen<T extends Record<string, { args: number[]; returns: number }>>(
    path: string,
    symbols: T,
  ): { symbols: { [K in keyof T]: (...args: unknown[]) => number } };
  export function ptr(view: ArrayBufferView): number;
  export const read: { i32(p: number, offset?: number): number };
}
