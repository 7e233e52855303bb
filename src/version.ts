/** avb's version, as `avb --version` and the reports state it. */
export const VERSION = '0.1.0';
