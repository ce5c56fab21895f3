/** The GitHub simulator's public face (being written: see packages/github-sim/README.md once it lands). */
export {};
