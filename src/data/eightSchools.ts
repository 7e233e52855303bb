/**
 * The eight-schools data (Rubin 1981; Gelman et al., BDA section 5.5): estimated treatment
 * effects `y` and their standard errors `sigma` for eight schools.
 */
export interface EightSchoolsData {
  name: 'classic' | 'paper';
  y: number[];
  sigma: number[];
  source: string;
}

/** The classic numbers (Rubin 1981; rstan's getting-started example). */
export const EIGHT_SCHOOLS_CLASSIC: EightSchoolsData = {
  name: 'classic',
  y: [28, 8, -3, 7, -1, 1, 18, 12],
  sigma: [15, 10, 16, 11, 9, 11, 10, 18],
  source: 'Rubin (1981); Gelman et al., Bayesian Data Analysis, section 5.5',
};

/** The rescaled numbers used in the AVB paper's section 6.1 (from the authors' code). */
export const EIGHT_SCHOOLS_PAPER: EightSchoolsData = {
  name: 'paper',
  y: [2.8, 0.8, -0.3, 0.7, -0.1, 0.1, 1.8, 1.2],
  sigma: [0.8, 0.5, 0.8, 0.6, 0.5, 0.6, 0.5, 0.4],
  source: 'Mescheder et al. (2017), section 6.1 (authors\u2019 code)',
};
