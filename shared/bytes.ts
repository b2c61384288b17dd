/** A mebibyte: what every byte setting and limit of the farm is counted in. */
export const MIB = 1024 * 1024;
