import { scaleRobustSuite } from './scaleRobustSuite.js';

scaleRobustSuite('correlated');
